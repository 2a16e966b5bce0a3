# PyHTTPSession and the default session in the real engine: many nodes at once, nodes
# freed while queued, queue_free mid-request, cookies, and the setters' refusals.
extends "res://suite_base.gd"

var base = ""
var httpbin = ""
var results = {}
var Req = load("res://addons/gdhttp/PyHTTPRequest.gdns")
var Sess = load("res://addons/gdhttp/PyHTTPSession.gdns")


func make(session):
	var n = Req.new()
	if session != null:
		check("set_session", n.set_session(session) == OK)
	root.add_child(n)
	n.connect("request_completed", self, "_done", [n.get_instance_id()])
	return n


func _done(result, code, _headers, body, id):
	# Text only for small bodies (the cookie echoes); binary files by size.
	results[id] = [result, code, body.get_string_from_utf8() if body.size() < 1000 else ""]


func wait_for(ids, limit):
	yield(self, "idle_frame")  # always a coroutine, even when everything is done
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
	base = OS.get_environment("GDHTTP_TEST_URL")
	httpbin = OS.get_environment("GDHTTP_TEST_HTTPBIN")
	yield(many_nodes(), "completed")
	yield(freed_while_queued(), "completed")
	yield(queue_free_mid_request(), "completed")
	yield(default_session(), "completed")
	yield(cookies(), "completed")


func many_nodes():
	var s = Sess.new()
	check("set_max_per_origin", s.set_max_per_origin(3) == OK)
	check("max_per_origin 0 refused", s.set_max_per_origin(0) != OK)
	var ids = []
	for i in range(16):
		var n = make(s)
		n.use_threads = i % 2 == 1
		check("request %d" % i, n.request(base + "/files/1k.bin?many=%d" % i) == OK)
		ids.append(n.get_instance_id())
	var done = yield(wait_for(ids, 5000), "completed")
	check("16 nodes completed", done)
	var good = 0
	for id in ids:
		if results.has(id) and results[id][0] == HTTPRequest.RESULT_SUCCESS and results[id][1] == 200:
			good += 1
	check("16 successes (%d)" % good, good == 16)
	for i in range(ids.size()):
		var id = ids[i]
		if not results.has(id) or results[id][0] != HTTPRequest.RESULT_SUCCESS:
			var n = instance_from_id(id)
			print("  missing or failed: node ", i, " ", results.get(id), " requesting ",
					n.is_requesting(), " status ", n.get_http_client_status(), " ",
					n.get_error_message())
	var st = s.get_stats()
	print("STATS many ", to_json(st))
	check("3 connections shared", st["opened"] <= 3 and st["opened"] + st["reused"] == 16)
	check("queued, then none", st["queued"] >= 1 and st["waiting"] == 0 and st["active"] == 0)


func freed_while_queued():
	var s = Sess.new()
	s.set_max_per_origin(1)
	var first = make(s)
	var b = make(s)
	var c = make(s)
	check("first request", first.request(base + "/slow/odd-100003.bin?fq=1") == OK)
	check("queued b", b.request(base + "/?fq=2") == OK)
	check("queued c", c.request(base + "/?fq=3") == OK)
	yield(frames(2), "completed")
	check("two waiting", s.get_stats()["waiting"] == 2)
	b.free()
	c.queue_free()
	yield(frames(2), "completed")
	check("freed nodes left the queue", s.get_stats()["waiting"] == 0)
	var ok = yield(wait_for([first.get_instance_id()], 2000), "completed")
	check("first done", ok and results[first.get_instance_id()][0] == HTTPRequest.RESULT_SUCCESS)
	var d = make(s)
	d.request(base + "/?fq=4")
	ok = yield(wait_for([d.get_instance_id()], 1000), "completed")
	check("next request after frees", ok and results[d.get_instance_id()][1] == 200)
	var st = s.get_stats()
	check("pool consistent", st["active"] == 0 and st["waiting"] == 0 and st["reused"] >= 1)


func queue_free_mid_request():
	var s = Sess.new()
	s.set_max_per_origin(1)
	for threads in [false, true]:
		var e = make(s)
		e.use_threads = threads
		e.request(base + "/slow/1m.bin?mid=%s" % threads)
		var waiting = make(s)
		waiting.request(base + "/files/1k.bin?mid-next=%s" % threads)
		yield(frames(3), "completed")
		e.queue_free()
		var ok = yield(wait_for([waiting.get_instance_id()], 1000), "completed")
		check("the queued node ran after queue_free (threads %s)" % threads, ok and results[waiting.get_instance_id()][1] == 200)
	var st = s.get_stats()
	check("no slot leaked", st["active"] == 0 and st["waiting"] == 0)


func default_session():
	var a = make(null)
	check("default session in use", a.is_using_session() and a.get_session() == null)
	var before = a.get_session_stats()
	a.request(base + "/?default=1")
	yield(wait_for([a.get_instance_id()], 1000), "completed")
	results.erase(a.get_instance_id())
	a.request(base + "/?default=2")
	yield(wait_for([a.get_instance_id()], 1000), "completed")
	var after = a.get_session_stats()
	check("the default session reused a connection", after["reused"] > before["reused"])
	var view = Sess.new()
	view.use_default_session()
	check("PyHTTPSession.use_default_session shows the same session", view.is_default_session() and view.get_stats()["reused"] == after["reused"])
	check("set_session(null)", a.set_session(null) == OK and not a.is_using_session())
	check("non-session refused", a.set_session(Reference.new()) == ERR_INVALID_PARAMETER)
	check("use_default_session", a.use_default_session() == OK and a.is_using_session())


func cookies():
	yield(self, "idle_frame")
	if httpbin == "":
		check("GDHTTP_TEST_HTTPBIN set", false)
		return
	var s = Sess.new()
	s.set_cookies_enabled(true)
	var n = make(s)
	n.request(httpbin + "/cookies/set?gdcookie=yum")
	yield(wait_for([n.get_instance_id()], 1000), "completed")
	check("cookie sent back", "yum" in results.get(n.get_instance_id(), [0, 0, ""])[2])
	var off = make(Sess.new())
	off.request(httpbin + "/cookies/set?gdcookie=no")
	yield(wait_for([off.get_instance_id()], 1000), "completed")
	check("cookies off by default", not ("gdcookie" in results.get(off.get_instance_id(), [0, 0, "gdcookie"])[2]))
	check("one cookie stored", s.get_stats()["cookies"] == 1)
	check("save_cookies to user://", s.save_cookies("user://gd-cookies.txt", true) == OK)
	var later = Sess.new()
	check("load_cookies from user://", later.load_cookies("user://gd-cookies.txt") == OK)
	check("the cookie came back", later.get_stats()["cookies"] == 1)
	check("missing file", later.load_cookies("user://none.txt") == ERR_FILE_NOT_FOUND)
	s.clear()
	check("clear() forgets cookies", s.get_stats()["cookies"] == 0)
