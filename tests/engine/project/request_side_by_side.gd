# Runs the same HTTPRequest scenarios with the engine's HTTPRequest and with
# PyHTTPRequest (use_threads off, then on) and prints one "SCENARIO <json>" line
# each; pytest compares them. Scenarios come from the file in GDHTTP_SCENARIO_FILE.
extends "res://suite_base.gd"

const WAIT_MS = 20000

var completions = {}

func run():
	var f = File.new()
	if f.open(OS.get_environment("GDHTTP_SCENARIO_FILE"), File.READ) != OK:
		check("scenario_file", false, OS.get_environment("GDHTTP_SCENARIO_FILE"))
		return
	var scenarios = parse_json(f.get_as_text())
	f.close()
	for threads in [false, true]:
		for sc in scenarios:
			var out = {"name": sc["name"], "threads": threads}
			for kind in ["native", "py"]:
				if kind in sc.get("skip", []):
					continue
				out[kind] = yield(drive(kind, sc, threads), "completed")
			print("SCENARIO ", to_json(out))
			passed += 1

func _on_done(result, code, headers, body, key):
	completions[key].append({"result": result, "code": code, "headers": headers, "body": body,
		"frame": Engine.get_idle_frames()})

func _on_progress(done, total, key, which):
	completions[key + "/" + which] = [done, total]
	completions[key + "/" + which + "_count"] = completions.get(key + "/" + which + "_count", 0) + 1

func drive(kind, sc, threads):
	var node = HTTPRequest.new() if kind == "native" else PyHTTPRequest.new()
	get_root().add_child(node)
	var key = "%s/%s/%s" % [sc["name"], kind, threads]
	completions[key] = []
	node.connect("request_completed", self, "_on_done", [key])
	node.use_threads = threads
	var opts = sc.get("opts", {})
	if opts.has("max_redirects"):
		node.max_redirects = int(opts["max_redirects"])
	if opts.has("body_size_limit"):
		node.body_size_limit = int(opts["body_size_limit"])
	if opts.has("timeout"):
		node.timeout = int(opts["timeout"]) if kind == "native" else float(opts["timeout"])
	var download = ""
	if opts.has("download_file"):
		download = opts["download_file"].replace("{who}", "%s-%s" % [kind, threads])
		node.download_file = download
	if kind == "py" and sc.has("py_ca"):
		node.set_trusted_certificates(sc["py_ca"])
	if kind == "py":
		node.connect("download_progress", self, "_on_progress", [key, "download"])
		node.connect("upload_progress", self, "_on_progress", [key, "upload"])
	var r = {}
	var start_frame = Engine.get_idle_frames()
	var url = sc["url"].replace("{who}", "%s-%s" % [kind, threads])
	if sc.has("upload_file"):
		r["err"] = node.request_file(url, sc["upload_file"])
	else:
		r["err"] = node.request(url, PoolStringArray(sc.get("headers", [])),
			sc.get("validate", true), int(sc.get("method", HTTPClient.METHOD_GET)), sc.get("body", ""))
	r["sync_signals"] = completions[key].size()
	var deadline = OS.get_ticks_msec() + WAIT_MS
	while completions[key].empty() and OS.get_ticks_msec() < deadline:
		yield(get_root().get_tree(), "idle_frame")
	# A few more frames: exactly one completion must arrive.
	for i in range(3):
		yield(get_root().get_tree(), "idle_frame")
	r["signals"] = completions[key].size()
	if not completions[key].empty():
		var c = completions[key][0]
		r["result"] = c["result"]
		r["code"] = c["code"]
		r["header_count"] = c["headers"].size()
		r["headers_type"] = typeof(c["headers"])
		r["body_type"] = typeof(c["body"])
		r["body_size"] = c["body"].size()
		r["body_sha256"] = c["body"].hex_encode().sha256_text() if c["body"].size() > 0 else ""
		r["frames"] = c["frame"] - start_frame
	for which in ["download", "upload"]:
		if completions.has(key + "/" + which):
			r[which + "_progress"] = completions[key + "/" + which]
			r[which + "_reports"] = completions[key + "/" + which + "_count"]
	r["status_after"] = node.get_http_client_status()
	r["downloaded"] = node.get_downloaded_bytes()
	r["body_size_reported"] = node.get_body_size()
	if download != "":
		var file = File.new()
		if file.open(download, File.READ) == OK:
			r["file_size"] = file.get_len()
			r["file_sha256"] = file.get_buffer(file.get_len()).hex_encode().sha256_text() if file.get_len() > 0 else ""
			file.close()
	node.queue_free()
	yield(get_root().get_tree(), "idle_frame")
	return r
