# The gdhttp demo scene. Buttons run one step each; headless (godot3-server) or
# with GDHTTP_DEMO_AUTORUN=1 it runs every step, prints progress and a summary,
# verifies every checksum against the server's manifest and JSON answers, watches
# a live server-sent event stream for gaps, and quits with 0 (all verified) or 1.
#
# Server: GDHTTP_DEMO_URL (default http://127.0.0.1:8080), GDHTTP_DEMO_HTTPS_URL
# (default https://127.0.0.1:8443), GDHTTP_DEMO_CA (PEM file of the CA to trust
# for HTTPS; empty: the system's). GDHTTP_DEMO_SCREENSHOT=<png path> saves the
# window after the run (windowed godot3 only).
extends Control

const MIB = 1048576.0
const WATCHDOG_S = 240
const STEPS = ["step_manifest", "step_big", "step_image", "step_multipart", "step_put", "step_events"]

var http_url = ""
var https_url = ""
var ca_pem = ""
var autorun = false
var manifest = {}
var results = []  # [ok, line] per step
var busy = false

onready var grid = $Margin/VBox/Grid
onready var picture = $Margin/VBox/Bottom/Picture
onready var summary = $Margin/VBox/Bottom/Summary

func _ready():
	http_url = env("GDHTTP_DEMO_URL", "http://127.0.0.1:8080").trim_suffix("/")
	https_url = env("GDHTTP_DEMO_HTTPS_URL", "https://127.0.0.1:8443").trim_suffix("/")
	ca_pem = env("GDHTTP_DEMO_CA", "")
	$Margin/VBox/Server.text = "server: %s  |  %s  |  CA: %s" % [http_url, https_url, ca_pem if ca_pem else "system"]
	$Margin/VBox/Buttons/RunAll.connect("pressed", self, "_on_button", ["run_all"])
	$Margin/VBox/Buttons/Download.connect("pressed", self, "_on_button", ["step_big"])
	$Margin/VBox/Buttons/Image.connect("pressed", self, "_on_button", ["step_image"])
	$Margin/VBox/Buttons/Multipart.connect("pressed", self, "_on_button", ["step_multipart"])
	$Margin/VBox/Buttons/Put.connect("pressed", self, "_on_button", ["step_put"])
	$Margin/VBox/Buttons/Events.connect("pressed", self, "_on_button", ["step_events"])
	autorun = OS.get_name() == "Server" or env("GDHTTP_DEMO_AUTORUN", "") != ""
	if autorun:
		var watchdog = get_tree().create_timer(WATCHDOG_S)
		watchdog.connect("timeout", self, "_on_watchdog")
		call_deferred("_on_button", "run_all")

func env(name, default):
	var v = OS.get_environment(name)
	return v if v != "" else default

func _on_watchdog():
	print("DEMO FAILED: not finished after %d s" % WATCHDOG_S)
	get_tree().quit(1)

func _on_button(step):
	if busy:
		return
	busy = true
	var state = call(step)
	if state is GDScriptFunctionState:
		yield(state, "completed")
	busy = false

func set_row(row, status, percent = -1):
	grid.get_node(row + "Status").text = status
	if percent >= 0:
		grid.get_node(row + "Bar").value = percent

func record(row, ok, line, short = ""):
	results.append([ok, line])
	set_row(row, ("OK  " + short) if ok else "FAILED (see summary)", 100 if ok else -1)
	print("%s %s" % ["CHECK ok  " if ok else "CHECK FAIL", line])

func file_info(name):
	return manifest.get("files", {}).get(name, {})

func rate(bytes, msec):
	return "%.1f MiB/s" % (bytes / MIB / max(msec, 1) * 1000.0)

# ------------------------------------------------------------------ all steps

func run_all():
	results = []
	var t0 = OS.get_ticks_msec()
	for step in STEPS:
		var state = call(step)
		if state is GDScriptFunctionState:
			yield(state, "completed")
		if manifest.empty():
			break
	var good = 0
	var text = "SUMMARY (%.1f s)\n" % ((OS.get_ticks_msec() - t0) / 1000.0)
	for r in results:
		good += 1 if r[0] else 0
		text += "  [%s] %s\n" % ["ok" if r[0] else "FAILED", r[1]]
	var ok = good == results.size() and results.size() == STEPS.size()
	text += "DEMO %s: %d/%d steps verified" % ["PASSED" if ok else "FAILED", good, STEPS.size()]
	summary.text = text
	print(text)
	var shot = env("GDHTTP_DEMO_SCREENSHOT", "")
	if shot != "" and OS.get_name() != "Server":
		yield(save_screenshot(shot), "completed")
	if autorun:
		get_tree().quit(0 if ok else 1)

func save_screenshot(path):
	for i in range(3):  # let the last labels and bars draw
		yield(get_tree(), "idle_frame")
	var image = get_viewport().get_texture().get_data()
	image.flip_y()  # viewport textures are stored bottom-up
	var err = image.save_png(path)
	print("SCREENSHOT %s %s" % [path, "saved" if err == OK else "failed (%d)" % err])

# ------------------------------------------------------------------ 1. manifest: PyHTTPClient poll loop

func split_url(url):
	var rest = url.split("://", true, 1)[1]
	var host = rest.split("/", true, 1)[0]
	var port = 443 if url.begins_with("https") else 80
	var colon = host.find_last(":")
	if colon > 0 and host.find("]") < colon:
		port = int(host.substr(colon + 1, host.length()))
		host = host.substr(0, colon)
	return [host.trim_prefix("[").trim_suffix("]"), port]

func step_manifest():
	var client = PyHTTPClient.new()
	if ca_pem != "":
		client.set_trusted_certificates(ca_pem)
	var target = split_url(https_url)
	set_row("Manifest", "connecting to %s:%d" % target, 0)
	var err = client.connect_to_host(target[0], target[1], true, true)
	var deadline = OS.get_ticks_msec() + 20000
	while err == OK and client.get_status() in [HTTPClient.STATUS_RESOLVING, HTTPClient.STATUS_CONNECTING] and OS.get_ticks_msec() < deadline:
		client.poll()
		yield(get_tree(), "idle_frame")
	if err == OK and client.get_status() == HTTPClient.STATUS_CONNECTED:
		err = client.request(HTTPClient.METHOD_GET, "/files/manifest.json", ["Accept: application/json"])
	else:
		err = FAILED
	set_row("Manifest", "requesting", 30)
	while err == OK and client.get_status() == HTTPClient.STATUS_REQUESTING and OS.get_ticks_msec() < deadline:
		client.poll()
		yield(get_tree(), "idle_frame")
	var body = PoolByteArray()
	while err == OK and client.get_status() == HTTPClient.STATUS_BODY and OS.get_ticks_msec() < deadline:
		client.poll()
		var chunk = client.read_response_body_chunk()
		if chunk.size() == 0:
			yield(get_tree(), "idle_frame")
		body.append_array(chunk)
	var code = client.get_response_code()
	var why = client.get_error_message()
	client.close()
	var parsed = JSON.parse(body.get_string_from_utf8() if body.size() > 0 else "null")
	if code == 200 and parsed.error == OK and typeof(parsed.result) == TYPE_DICTIONARY and parsed.result.has("files"):
		manifest = parsed.result
		record("Manifest", true, "manifest over HTTPS (PyHTTPClient poll loop): %d files listed" % manifest["files"].size(), "%d files" % manifest["files"].size())
	else:
		record("Manifest", false, "manifest: HTTP %d %s" % [code, why])

func ensure_manifest():
	if manifest.empty():
		var state = step_manifest()
		if state is GDScriptFunctionState:
			yield(state, "completed")
	yield(get_tree(), "idle_frame")

# ------------------------------------------------------------------ 2. big download: PyHTTPRequest to a file

var _last_quarter = -1

func _on_big_progress(downloaded, total):
	if total <= 0:
		return
	var percent = 100.0 * downloaded / total
	set_row("Big", "%.1f / %.1f MiB" % [downloaded / MIB, total / MIB], percent)
	var quarter = int(percent / 25)
	if quarter != _last_quarter:
		_last_quarter = quarter
		print("PROGRESS download big.bin %3d%% (%.1f/%.1f MiB)" % [int(percent), downloaded / MIB, total / MIB])

func new_request():
	var req = PyHTTPRequest.new()
	add_child(req)
	if ca_pem != "":
		req.set_trusted_certificates(ca_pem)
	return req

func step_big():
	yield(ensure_manifest(), "completed")
	var want = file_info("big.bin")
	var req = new_request()
	req.use_threads = true
	req.download_file = "user://big.bin"
	req.connect("download_progress", self, "_on_big_progress")
	_last_quarter = -1
	var t0 = OS.get_ticks_msec()
	var err = req.request(http_url + "/files/big.bin")
	var r = [HTTPRequest.RESULT_CANT_CONNECT, 0, [], []]
	if err == OK:
		r = yield(req, "request_completed")
	var msec = OS.get_ticks_msec() - t0
	req.queue_free()
	var sha = File.new().get_sha256("user://big.bin")
	var ok = err == OK and r[0] == HTTPRequest.RESULT_SUCCESS and r[1] == 200 and sha == want.get("sha256")
	record("Big", ok, "big.bin downloaded to a file (PyHTTPRequest, use_threads): %d bytes, sha256 %s, %s" % [
		req.get_downloaded_bytes(), "verified" if ok else "MISMATCH (result %d, code %d)" % [r[0], r[1]], rate(want.get("size", 0), msec)],
		"sha256 verified, " + rate(want.get("size", 0), msec))

# ------------------------------------------------------------------ 3. PNG: PyHTTPRequest over HTTPS, shown

func _on_image_progress(downloaded, total):
	if total > 0:
		set_row("Image", "%d / %d bytes" % [downloaded, total], 100.0 * downloaded / total)

func step_image():
	yield(ensure_manifest(), "completed")
	var want = file_info("image.png")
	var req = new_request()
	req.connect("download_progress", self, "_on_image_progress")
	var err = req.request(https_url + "/files/image.png")
	var r = [HTTPRequest.RESULT_CANT_CONNECT, 0, [], PoolByteArray()]
	if err == OK:
		r = yield(req, "request_completed")
	req.queue_free()
	var body = r[3]
	var saved = File.new()
	if saved.open("user://image.png", File.WRITE) == OK:
		saved.store_buffer(body)
		saved.close()
	var sha = File.new().get_sha256("user://image.png")
	var image = Image.new()
	var shown = image.load_png_from_buffer(body) == OK
	if shown:
		var texture = ImageTexture.new()
		texture.create_from_image(image)
		picture.texture = texture
	var ok = r[0] == HTTPRequest.RESULT_SUCCESS and r[1] == 200 and sha == want.get("sha256") and shown
	record("Image", ok, "image.png over HTTPS (PyHTTPRequest, trusted CA): %dx%d, %d bytes, sha256 %s" % [
		image.get_width(), image.get_height(), body.size(), "verified" if ok else "MISMATCH (result %d, code %d)" % [r[0], r[1]]],
		"%dx%d, sha256 verified" % [image.get_width(), image.get_height()])

# ------------------------------------------------------------------ 4. multipart upload: PyHTTPRequest

var _last_upload_quarter = -1

func _on_multipart_progress(sent, total):
	if total <= 0:
		return
	var percent = 100.0 * sent / total
	set_row("Multipart", "%.1f / %.1f MiB sent" % [sent / MIB, total / MIB], percent)
	var quarter = int(percent / 25)
	if quarter != _last_upload_quarter:
		_last_upload_quarter = quarter
		print("PROGRESS upload multipart %3d%% (%.1f/%.1f MiB)" % [int(percent), sent / MIB, total / MIB])

func step_multipart():
	yield(ensure_manifest(), "completed")
	var files = {"image": "user://image.png", "blob": "user://big.bin"}
	for path in files.values():
		if not File.new().file_exists(path):
			record("Multipart", false, "multipart upload: %s missing (run the downloads first)" % path)
			return
	var req = new_request()
	req.connect("upload_progress", self, "_on_multipart_progress")
	_last_upload_quarter = -1
	var t0 = OS.get_ticks_msec()
	var err = req.request_multipart(https_url + "/upload", {"title": "gdhttp demo"}, files)
	var r = [HTTPRequest.RESULT_CANT_CONNECT, 0, [], PoolByteArray()]
	if err == OK:
		r = yield(req, "request_completed")
	var msec = OS.get_ticks_msec() - t0
	req.queue_free()
	var reply = JSON.parse(r[3].get_string_from_utf8() if r[3].size() > 0 else "null")
	var parts = {}
	if reply.error == OK and typeof(reply.result) == TYPE_DICTIONARY:
		for part in reply.result.get("parts", []):
			parts[part.get("name")] = part
	var ok = r[0] == HTTPRequest.RESULT_SUCCESS and r[1] == 200
	ok = ok and parts.has("title") and parts["title"].get("size") == float("gdhttp demo".length())
	ok = ok and parts.has("image") and parts["image"].get("sha256") == file_info("image.png").get("sha256")
	ok = ok and parts.has("blob") and parts["blob"].get("sha256") == file_info("big.bin").get("sha256")
	var total = reply.result.get("body_bytes", 0) if ok else 0
	record("Multipart", ok, "multipart/form-data POST over HTTPS (PyHTTPRequest, streamed from disk): %d parts, %.1f MiB, sha256 %s, %s" % [
		parts.size(), total / MIB, "verified per part" if ok else "MISMATCH (result %d, code %d)" % [r[0], r[1]], rate(total, msec)],
		"%d parts verified, %s" % [parts.size(), rate(total, msec)])

# ------------------------------------------------------------------ 5. streamed PUT: the Python script

var _last_put_quarter = -1

func _on_put_progress(sent, total):
	var percent = 100.0 * sent / total
	set_row("Put", "%.1f / %.1f MiB sent" % [sent / MIB, total / MIB], percent)
	var quarter = int(percent / 25)
	if quarter != _last_put_quarter:
		_last_put_quarter = quarter
		print("PROGRESS upload PUT %3d%% (%.1f/%.1f MiB)" % [int(percent), sent / MIB, total / MIB])

func step_put():
	yield(ensure_manifest(), "completed")
	if not File.new().file_exists("user://big.bin"):
		record("Put", false, "streamed PUT: user://big.bin missing (run the download first)")
		return
	var uploader = load("res://StreamUploader.gdns").new()
	add_child(uploader)
	uploader.connect("progress", self, "_on_put_progress")
	_last_put_quarter = -1
	var t0 = OS.get_ticks_msec()
	var err = uploader.put_file(https_url + "/upload/demo-big.bin", "user://big.bin", ca_pem)
	var r = [false, 0, ""]
	if err == OK:
		r = yield(uploader, "finished")
	var msec = OS.get_ticks_msec() - t0
	uploader.queue_free()
	var reply = JSON.parse(r[2] if r[2] != "" else "null")
	var want = file_info("big.bin")
	var ok = r[0] and r[1] == 200 and reply.error == OK and typeof(reply.result) == TYPE_DICTIONARY
	ok = ok and reply.result.get("sha256") == want.get("sha256") and reply.result.get("size") == float(want.get("size", -1))
	record("Put", ok, "streamed PUT over HTTPS (Python script StreamUploader, gdhttp.HTTPClient): %.1f MiB, sha256 %s, %s" % [
		want.get("size", 0) / MIB, "verified by the server" if ok else "MISMATCH (err %d, code %d)" % [err, r[1]], rate(want.get("size", 0), msec)],
		"sha256 verified, " + rate(want.get("size", 0), msec))

# ------------------------------------------------------------------ 6. live events: PyEventSource

const EVENT_COUNT = 40
const EVENTS_SHOWN = 8

var _events = {}

func _on_event(type, data, last_id):
	var parsed = JSON.parse(data)
	var n = int(parsed.result.get("n", -1)) if parsed.error == OK and typeof(parsed.result) == TYPE_DICTIONARY else -1
	var e = _events
	if e.last > 0 and n > e.last + 1:
		e.gaps += n - e.last - 1
	if n <= e.last:
		e.repeats += 1
	e.last = max(e.last, n)
	e.count += 1
	e.lines.append("#%d  %s  +%.2f s" % [n, type, (OS.get_ticks_msec() - e.t0) / 1000.0])
	if e.lines.size() > EVENTS_SHOWN:
		e.lines.pop_front()
	$Margin/VBox/Bottom/EventsPanel/EventsLog.text = PoolStringArray(e.lines).join("\n")
	show_events()

func _on_events_error(result, message):
	_events.errors.append(message)
	print("EVENTS error (result %d): %s" % [result, message])

func show_events():
	var e = _events
	var text = "events %d/%d, gaps %d, connections %d" % [e.count, EVENT_COUNT, e.gaps, e.source.get_connection_count()]
	$Margin/VBox/Bottom/EventsPanel/EventsTitle.text = text
	set_row("Events", text, 100.0 * e.count / EVENT_COUNT)

func step_events():
	# The server ends the stream every 15 events: the node reconnects after retry (100 ms)
	# with Last-Event-ID, and the server resumes after it, so no event may go missing.
	var source = PyEventSource.new()
	add_child(source)
	if ca_pem != "":
		source.set_trusted_certificates(ca_pem)
	_events = {"count": 0, "last": 0, "gaps": 0, "repeats": 0, "lines": [], "errors": [],
		"t0": OS.get_ticks_msec(), "source": source}
	source.connect("event_received", self, "_on_event")
	source.connect("error", self, "_on_events_error")
	var err = source.open(https_url + "/events?count=%d&interval_ms=40&close_after=15&retry=100" % EVENT_COUNT)
	var deadline = OS.get_ticks_msec() + 30000
	while err == OK and _events.count < EVENT_COUNT and source.get_ready_state() != 2 and OS.get_ticks_msec() < deadline:
		yield(get_tree(), "idle_frame")
	var e = _events
	var connections = source.get_connection_count()
	source.close()
	source.queue_free()
	var msec = OS.get_ticks_msec() - e.t0
	var ok = err == OK and e.count == EVENT_COUNT and e.gaps == 0 and e.repeats == 0 and connections >= 3
	print("EVENTS %d received, %d gaps, %d repeats, %d connections" % [e.count, e.gaps, e.repeats, connections])
	record("Events", ok, "live events over HTTPS (PyEventSource, reconnecting with Last-Event-ID): %d/%d events, %d gaps, sequence %s, %d connections, %.1f s" % [
		e.count, EVENT_COUNT, e.gaps, "verified" if ok else "BROKEN (err %d, %s)" % [err, str(e.errors)], connections, msec / 1000.0],
		"%d events, %d gaps, %d connections" % [e.count, e.gaps, connections])
