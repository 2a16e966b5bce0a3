extends SceneTree
# Session workloads (issue 12), native HTTPRequest beside PyHTTPRequest in one engine run:
#   mode "session": 100 sequential small HTTPS GETs through one node and through fresh nodes,
#     on loopback and through the latency relay; 64 nodes at once through the relay.
#   mode "idle": frames with nothing to do, bracketed by marker stat() calls that
#     bench/engine.py finds in an strace of this process: syscalls per idle frame with no
#     connection, after native requests, and with pooled idle Py connections.
# Prints "BENCH_ROW <json>" lines like bench.gd. Config: the JSON file in GDHTTP_BENCH_CONFIG.
# Works with and without sessions in the addon: statistics are read only if PyHTTPSession exists.

const PY_REQUEST = "res://addons/gdhttp/PyHTTPRequest.gdns"
const PY_SESSION = "res://addons/gdhttp/PyHTTPSession.gdns"
const JOB_TIMEOUT_MS = 120000  # a stuck workload is reported and skipped, never waited on
const SETTLE_FRAMES = 10  # frames between a burst's end and an idle window: freed nodes go
# Requests started per frame in a burst, for both classes: the engine's resolver holds 32
# queries (IP.RESOLVER_MAX_QUERIES); a native HTTPClient that finds it full stays RESOLVING
# forever (poll() answers ERR_BUG). The second half starts one frame (~7 ms) later.
const STARTS_PER_FRAME = 32

var cfg = {}
var jobs = []
var job = null
var py_script = null
var session = null  # a PyHTTPSession bound to the default session, if the addon has one
var marker = File.new()


func emit(workload, impl, unit, value):
	print("BENCH_ROW " + to_json({"workload": workload, "impl": impl, "unit": unit, "value": value}))


func fail(msg):
	print("BENCH_ERROR " + msg)


func impl_name(impl):
	if impl == "py_h2":
		return "PyHTTPRequest, h2 session"
	return "native HTTPRequest" if impl == "native" else "PyHTTPRequest"


func stats():
	return session.get_stats() if session != null else {}


func _initialize():
	var f = File.new()
	if f.open(OS.get_environment("GDHTTP_BENCH_CONFIG"), File.READ) != OK:
		fail("no config")
		quit(2)
		return
	cfg = parse_json(f.get_as_text())
	f.close()
	if not ResourceLoader.exists(PY_REQUEST):
		fail("PyHTTPRequest not available: session workloads skipped")
		quit(2)
		return
	py_script = load(PY_REQUEST)
	if ResourceLoader.exists(PY_SESSION):
		session = load(PY_SESSION).new()
		if session != null and session.has_method("use_default_session"):
			session.use_default_session()
		if session == null or not session.has_method("get_stats"):
			session = null
	print("BENCH_INFO sessions %s" % ("yes" if session != null else "no"))
	if cfg["mode"] == "idle":
		plan_idle()
	elif cfg["mode"] == "h2":
		plan_h2()
	else:
		plan_session()


func url(relayed):
	var port = int(cfg["relay_port"]) if relayed else int(cfg["https_port"])
	return "https://localhost:%d%s" % [port, cfg["path"]]


func seq_job(impl, relayed, fresh, count, emit_rows):
	var w = "session %d GETs HTTPS, %s, %s" % [count, "fresh nodes" if fresh else "one node",
			cfg["rtt_label"] if relayed else "loopback"]
	return {"kind": "seq", "impl": impl, "url": url(relayed), "fresh": fresh, "count": count,
			"workload": w, "emit": emit_rows}


func burst_job(impl, relayed, count, emit_rows):
	var w = "session %d nodes at once HTTPS, %s" % [count, cfg["rtt_label"] if relayed else "loopback"]
	return {"kind": "burst", "impl": impl, "url": url(relayed), "fresh": true, "count": count,
			"workload": w, "emit": emit_rows}


func plan_session():
	var count = int(cfg["count"])
	for impl in ["native", "py"]:  # warm-up: the first requests load code and fill caches
		jobs.append(seq_job(impl, false, false, 5, false))
		jobs.append(seq_job(impl, true, false, 2, false))
	for r in range(int(cfg["runs"])):
		for relayed in [false, true]:
			for fresh in [false, true]:
				for impl in ["native", "py"]:
					jobs.append(seq_job(impl, relayed, fresh, count, true))
		for impl in ["native", "py"]:
			jobs.append(burst_job(impl, true, int(cfg["burst"]), true))


# Mode "h2" (issue 13): bursts through the relay, native vs the HTTP/1.1 pool vs an h2 session.
var h2_session = null


func plan_h2():
	h2_session = load(PY_SESSION).new()
	h2_session.set_http2_enabled(true)
	for impl in ["native", "py", "py_h2"]:
		jobs.append(h2_job(impl, 4, true, false))  # warm-up
	for r in range(int(cfg["runs"])):
		for cold in [true, false]:
			for impl in ["native", "py", "py_h2"]:
				if impl != "native" or cold:  # native has no pool: always new connections
					jobs.append(h2_job(impl, int(cfg["burst"]), cold, true))


func h2_job(impl, count, cold, emit_rows):
	var j = burst_job(impl, true, count, emit_rows)
	j["workload"] = "h2 %d nodes at once HTTPS, %s, %s" % [count, cfg["rtt_label"],
			"new connections" if cold else "pooled connections"]
	j["cold"] = cold
	return j


func plan_idle():
	var runs = int(cfg["runs"])
	var n = int(cfg["idle_connections"])
	for r in range(runs):
		jobs.append({"kind": "idle", "label": "baseline", "run": r})
	for r in range(runs):
		jobs.append(burst_job("native", false, n, false))
		jobs.append({"kind": "idle", "label": "native", "run": r})
	# Once: the Py connections stay pooled and idle through every window after it.
	jobs.append(burst_job("py", false, n, false))
	for r in range(runs):
		jobs.append({"kind": "idle", "label": "py", "run": r})


func make_node(impl):
	var node
	if impl == "native":
		node = HTTPRequest.new()
	else:
		node = py_script.new()
		if node.has_method("set_trusted_certificates"):
			node.set_trusted_certificates(cfg["ca"])
		if impl == "py_h2":
			node.set_session(h2_session)
	root.add_child(node)
	node.connect("request_completed", self, "_on_done", [node])
	return node


func send(node):
	var err = node.request(job["url"])
	if err != OK and job["error"] == "":
		job["error"] = "request() returned %d" % err


func start_job(j):
	job = j
	job["error"] = ""
	job["done"] = 0
	job["frames"] = 0
	job["nodes"] = []
	if job.get("cold", false):  # mode h2: no connection left from the previous job
		if job["impl"] == "py" and session != null:
			session.close_idle()
		if job["impl"] == "py_h2":
			h2_session.close_idle()
	job["stats0"] = stats()
	if h2_session != null:
		job["h2_0"] = h2_session.get_stats()["h2_connections"]
	job["deadline"] = OS.get_ticks_msec() + JOB_TIMEOUT_MS
	if job["kind"] == "idle":
		return
	var count = job["count"] if job["kind"] == "burst" else 1
	for i in range(count):
		job["nodes"].append(make_node(job["impl"]))
	job["t0"] = OS.get_ticks_usec()
	job["unsent"] = job["nodes"].duplicate()
	send_some()


func send_some():
	for i in range(min(STARTS_PER_FRAME, job["unsent"].size())):
		send(job["unsent"].pop_front())


func _on_done(result, code, _headers, body, node):
	if job == null or not job["nodes"].has(node):
		return
	if (result != HTTPRequest.RESULT_SUCCESS or code != 200 or body.size() != int(cfg["body_size"])) and job["error"] == "":
		job["error"] = "request %d: result %d, code %d, %d bytes" % [job["done"] + 1, result, code, body.size()]
		if node.has_method("get_error_message"):
			job["error"] += " (%s)" % node.get_error_message()
	job["done"] += 1
	if job["done"] >= job["count"]:
		job["t1"] = OS.get_ticks_usec()
	elif job["kind"] == "seq" and job["error"] == "":
		call_deferred("_next", node)  # after the signal returns, as a game would


func _next(node):
	if job == null or not job["nodes"].has(node):
		return
	if job["fresh"]:
		job["nodes"].erase(node)
		node.queue_free()
		node = make_node(job["impl"])
		job["nodes"].append(node)
	send(node)


func finish_job():
	var w = job["workload"] if job.has("workload") else ""
	if job["error"] != "":
		fail("%s / %s: %s" % [w, job["impl"], job["error"]])
	elif not job.has("t1"):
		fail("%s / %s: %d of %d done in %d ms" % [w, job["impl"], job["done"], job["count"], JOB_TIMEOUT_MS])
	elif job["emit"]:
		var dt = float(job["t1"] - job["t0"])
		if job["kind"] == "seq":
			emit(w, impl_name(job["impl"]), "req/s", job["count"] * 1000000.0 / dt)
		else:
			emit(w, impl_name(job["impl"]), "ms", dt / 1000.0)
		if job["impl"] == "py_h2":
			var h = h2_session.get_stats()
			emit(w + ": h2 connections opened", impl_name("py_h2"), "conns",
					h["h2_connections"] - job["h2_0"])
		if job["impl"] == "py" and session != null:
			var s0 = job["stats0"]
			var s1 = stats()
			emit(w + ": connections opened", "PyHTTPRequest", "conns", s1["opened"] - s0["opened"])
	for node in job["nodes"]:
		if is_instance_valid(node):
			node.queue_free()
	job = null


func idle_frame():
	# Frames 0..SETTLE-1 settle; then a marker, `idle_frames` frames, a marker.
	var frames = int(cfg["idle_frames"])
	var tag = "%s-%d" % [job["label"], job["run"]]
	if job["frames"] == SETTLE_FRAMES:
		marker.file_exists(cfg["tmp"] + "/MARK-begin-" + tag)
		job["t0"] = OS.get_ticks_usec()
	elif job["frames"] == SETTLE_FRAMES + frames:
		marker.file_exists(cfg["tmp"] + "/MARK-end-" + tag)
		var dt = OS.get_ticks_usec() - job["t0"]
		var idle = stats().get("idle", -1)
		print("BENCH_IDLE " + to_json({"tag": tag, "label": job["label"], "frames": frames,
				"usec": dt, "pooled_idle": idle}))
		job = null
		return
	job["frames"] += 1


func _idle(_delta):
	if job != null:
		if job["kind"] == "idle":
			idle_frame()
			return false
		if not job["unsent"].empty():
			send_some()
		var finished = job["error"] != "" or job.has("t1")
		if not finished and OS.get_ticks_msec() < job["deadline"]:
			return false
		finish_job()
	if jobs.empty():
		print("BENCH_DONE")
		quit(0)
		return false
	start_job(jobs.pop_front())
	return false
