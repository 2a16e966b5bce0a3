extends SceneTree
# HTTP/2 sessions in the real engine (issue 13): PyHTTPRequest nodes on a PyHTTPSession with
# set_http2_enabled(true) against nginx's http2 listener, many at once, headers in canonical
# case (the Dictionary too), an upload with progress, and the default (HTTP/1.1) unchanged.
# Prints "ok <what>" / "FAIL <what>" lines and "RESULT <n> failures" at the end.

var base = ""
var ca = ""
var failures = 0
var results = {}
var uploads = {}
var Req = load("res://addons/gdhttp/PyHTTPRequest.gdns")
var Sess = load("res://addons/gdhttp/PyHTTPSession.gdns")


func _initialize():
	base = OS.get_environment("GDHTTP_TEST_H2_URL")
	ca = OS.get_environment("GDHTTP_TEST_CA")
	call_deferred("_run")


func check(cond, what):
	if cond:
		print("ok ", what)
	else:
		failures += 1
		print("FAIL ", what)


func make(session):
	var n = Req.new()
	n.set_trusted_certificates(ca)
	if session != null:
		check(n.set_session(session) == OK, "set_session")
	root.add_child(n)
	n.connect("request_completed", self, "_done", [n.get_instance_id()])
	n.connect("upload_progress", self, "_up", [n.get_instance_id()])
	return n


func _done(result, code, headers, body, id):
	results[id] = [result, code, headers, body.size(), body.get_string_from_utf8() if body.size() < 1000 else ""]


func _up(sent, total, id):
	uploads[id] = [sent, total]


func wait_for(ids, frames):
	yield(self, "idle_frame")
	for _i in range(frames):
		var missing = 0
		for id in ids:
			if not results.has(id):
				missing += 1
		if missing == 0:
			return true
		yield(self, "idle_frame")
	return false


func _run():
	yield(many_on_one_connection(), "completed")
	yield(headers_and_upload(), "completed")
	yield(default_is_http1(), "completed")
	print("RESULT ", failures, " failures")
	quit(0 if failures == 0 else 1)


func many_on_one_connection():
	var s = Sess.new()
	check(s.is_http2_enabled(), "a new session offers http2")
	var d = Sess.new()
	d.use_default_session()
	check(not d.is_http2_enabled(), "the nodes' default session stays HTTP/1.1")
	s.set_http2_enabled(false)
	check(not s.is_http2_enabled(), "http2 off")
	s.set_http2_enabled(true)
	check(s.is_http2_enabled(), "http2 on")
	var ids = []
	var nodes = []
	for i in range(32):
		var n = make(s)
		n.use_threads = i % 4 == 1
		check(n.request(base + "/files/1k.bin?enginemany=%d" % i) == OK, "request %d" % i)
		ids.append(n.get_instance_id())
		nodes.append(n)
	check(yield(wait_for(ids, 2000), "completed"), "32 requests completed")
	var good = 0
	for id in ids:
		if results.has(id) and results[id][0] == HTTPRequest.RESULT_SUCCESS and results[id][1] == 200 and results[id][3] == 1024:
			good += 1
	check(good == 32, "32 successes (%d)" % good)
	var st = s.get_stats()
	check(st["h2_connections"] == 1, "one h2 connection (%d)" % st["h2_connections"])
	check(st["h2_streams"] == 32, "32 streams (%d)" % st["h2_streams"])
	check(st["opened"] == 0, "no HTTP/1.1 connection (%d)" % st["opened"])
	for n in nodes:
		n.queue_free()


func headers_and_upload():
	var s = Sess.new()
	s.set_http2_enabled(true)
	var n = make(s)
	var id = n.get_instance_id()
	check(n.request(base + "/headers/repeated") == OK, "headers request")
	check(yield(wait_for([id], 1000), "completed"), "headers completed")
	var headers = results[id][2]
	check(Array(headers).has("Content-Type: text/plain"), "canonical Content-Type line")
	var dict_ok = false
	for h in headers:
		if h.begins_with(":"):
			dict_ok = false
			break
		if h.begins_with("X-Multi:"):
			dict_ok = true
	check(dict_ok, "X-Multi present, no pseudo-fields")
	results.erase(id)
	var body = PoolByteArray()
	body.resize(3 * 1024 * 1024)
	check(n.request_raw(base + "/post-echo", [], true, HTTPClient.METHOD_POST, body) == OK, "upload request")
	check(yield(wait_for([id], 3000), "completed"), "upload completed")
	check(results[id][0] == HTTPRequest.RESULT_SUCCESS and results[id][4] == "received 3145728\n", "upload echoed (%s)" % str(results[id]))
	check(uploads.has(id) and uploads[id][0] == 3145728 and uploads[id][1] == 3145728, "upload progress reached the end (%s)" % str(uploads.get(id)))
	check(s.get_stats()["h2_connections"] == 1, "upload on the same connection")
	n.queue_free()


func default_is_http1():
	var n = make(null)
	var id = n.get_instance_id()
	check(n.request(base + "/files/1k.bin?enginedefault=1") == OK, "default request")
	check(yield(wait_for([id], 1000), "completed"), "default completed")
	check(results[id][0] == HTTPRequest.RESULT_SUCCESS, "default succeeded")
	n.queue_free()
