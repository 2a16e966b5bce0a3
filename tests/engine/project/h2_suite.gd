# HTTP/2 sessions in the real engine (issue 13): PyHTTPRequest nodes on a PyHTTPSession with
# set_http2_enabled(true) against nginx's http2 listener, many at once, headers in canonical
# case (the Dictionary too), an upload with progress, and the default (HTTP/1.1) unchanged.
extends "res://suite_base.gd"

var base = ""
var ca = ""
var results = {}
var uploads = {}
var Req = load("res://addons/gdhttp/PyHTTPRequest.gdns")
var Sess = load("res://addons/gdhttp/PyHTTPSession.gdns")


func make(session):
	var n = Req.new()
	n.set_trusted_certificates(ca)
	if session != null:
		check("set_session", n.set_session(session) == OK)
	root.add_child(n)
	n.connect("request_completed", self, "_done", [n.get_instance_id()])
	n.connect("upload_progress", self, "_up", [n.get_instance_id()])
	return n


func _done(result, code, headers, body, id):
	results[id] = [result, code, headers, body.size(), body.get_string_from_utf8() if body.size() < 1000 else ""]


func _up(sent, total, id):
	uploads[id] = [sent, total]


func wait_for(ids, limit):
	yield(self, "idle_frame")
	for _i in range(limit):
		var missing = 0
		for id in ids:
			if not results.has(id):
				missing += 1
		if missing == 0:
			return true
		yield(self, "idle_frame")
	return false


func run():
	base = OS.get_environment("GDHTTP_TEST_H2_URL")
	ca = OS.get_environment("GDHTTP_TEST_CA")
	yield(many_on_one_connection(), "completed")
	yield(headers_and_upload(), "completed")
	yield(default_is_http1(), "completed")


func many_on_one_connection():
	var s = Sess.new()
	check("a new session offers http2", s.is_http2_enabled())
	var d = Sess.new()
	d.use_default_session()
	check("the nodes' default session stays HTTP/1.1", not d.is_http2_enabled())
	s.set_http2_enabled(false)
	check("http2 off", not s.is_http2_enabled())
	s.set_http2_enabled(true)
	check("http2 on", s.is_http2_enabled())
	var ids = []
	var nodes = []
	for i in range(32):
		var n = make(s)
		n.use_threads = i % 4 == 1
		check("request %d" % i, n.request(base + "/files/1k.bin?enginemany=%d" % i) == OK)
		ids.append(n.get_instance_id())
		nodes.append(n)
	check("32 requests completed", yield(wait_for(ids, 2000), "completed"))
	var good = 0
	for id in ids:
		if results.has(id) and results[id][0] == HTTPRequest.RESULT_SUCCESS and results[id][1] == 200 and results[id][3] == 1024:
			good += 1
	check("32 successes (%d)" % good, good == 32)
	var st = s.get_stats()
	check("one h2 connection (%d)" % st["h2_connections"], st["h2_connections"] == 1)
	check("32 streams (%d)" % st["h2_streams"], st["h2_streams"] == 32)
	check("no HTTP/1.1 connection (%d)" % st["opened"], st["opened"] == 0)
	for n in nodes:
		n.queue_free()


func headers_and_upload():
	var s = Sess.new()
	s.set_http2_enabled(true)
	var n = make(s)
	var id = n.get_instance_id()
	check("headers request", n.request(base + "/headers/repeated") == OK)
	check("headers completed", yield(wait_for([id], 1000), "completed"))
	var headers = results[id][2]
	check("canonical Content-Type line", Array(headers).has("Content-Type: text/plain"))
	var dict_ok = false
	for h in headers:
		if h.begins_with(":"):
			dict_ok = false
			break
		if h.begins_with("X-Multi:"):
			dict_ok = true
	check("X-Multi present, no pseudo-fields", dict_ok)
	results.erase(id)
	var body = PoolByteArray()
	body.resize(3 * 1024 * 1024)
	check("upload request", n.request_raw(base + "/post-echo", [], true, HTTPClient.METHOD_POST, body) == OK)
	check("upload completed", yield(wait_for([id], 3000), "completed"))
	check("upload echoed (%s)" % str(results[id]), results[id][0] == HTTPRequest.RESULT_SUCCESS and results[id][4] == "received 3145728\n")
	check("upload progress reached the end (%s)" % str(uploads.get(id)), uploads.has(id) and uploads[id][0] == 3145728 and uploads[id][1] == 3145728)
	check("upload on the same connection", s.get_stats()["h2_connections"] == 1)
	n.queue_free()


func default_is_http1():
	var n = make(null)
	var id = n.get_instance_id()
	check("default request", n.request(base + "/files/1k.bin?enginedefault=1") == OK)
	check("default completed", yield(wait_for([id], 1000), "completed"))
	check("default succeeded", results[id][0] == HTTPRequest.RESULT_SUCCESS)
	n.queue_free()
