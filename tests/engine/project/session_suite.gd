extends SceneTree
# PyHTTPSession and the default session in the real engine: many nodes at once, nodes
# freed while queued, queue_free mid-request, cookies, and the setters' refusals.
# Prints "ok <what>" / "FAIL <what>" lines and "RESULT <n> failures" at the end.

var base = ""
var httpbin = ""
var failures = 0
var results = {}
var Req = load("res://addons/gdhttp/PyHTTPRequest.gdns")
var Sess = load("res://addons/gdhttp/PyHTTPSession.gdns")


func _initialize():
	base = OS.get_environment("GDHTTP_TEST_URL")
	httpbin = OS.get_environment("GDHTTP_TEST_HTTPBIN")
	call_deferred("_run")


func check(cond, what):
	if cond:
		print("ok ", what)
	else:
		failures += 1
		print("FAIL ", what)


func make(session):
	var n = Req.new()
	if session != null:
		check(n.set_session(session) == OK, "set_session")
	root.add_child(n)
	n.connect("request_completed", self, "_done", [n.get_instance_id()])
	return n


func _done(result, code, _headers, body, id):
	# Text only for small bodies (the cookie echoes); binary files by size.
	results[id] = [result, code, body.get_string_from_utf8() if body.size() < 1000 else ""]


func wait_for(ids, frames):
	yield(self, "idle_frame")  # always a coroutine, even when everything is done
	for _i in range(frames):
		var missing = 0
		for id in ids:
			if not results.has(id):
				missing += 1
		if missing == 0:
			return true
		yield(self, "idle_frame")
	return false


func frames(n):
	yield(self, "idle_frame")
	for _i in range(n - 1):
		yield(self, "idle_frame")
	return true


func _run():
	yield(many_nodes(), "completed")
	yield(freed_while_queued(), "completed")
	yield(queue_free_mid_request(), "completed")
	yield(default_session(), "completed")
	yield(cookies(), "completed")
	print("RESULT ", failures, " failures")
	quit(0 if failures == 0 else 1)


func many_nodes():
	var s = Sess.new()
	check(s.set_max_per_origin(3) == OK, "set_max_per_origin")
	check(s.set_max_per_origin(0) != OK, "max_per_origin 0 refused")
	var ids = []
	for i in range(16):
		var n = make(s)
		n.use_threads = i % 2 == 1
		check(n.request(base + "/files/1k.bin?many=%d" % i) == OK, "request %d" % i)
		ids.append(n.get_instance_id())
	var done = yield(wait_for(ids, 5000), "completed")
	check(done, "16 nodes completed")
	var good = 0
	for id in ids:
		if results.has(id) and results[id][0] == HTTPRequest.RESULT_SUCCESS and results[id][1] == 200:
			good += 1
	check(good == 16, "16 successes (%d)" % good)
	for i in range(ids.size()):
		var id = ids[i]
		if not results.has(id) or results[id][0] != HTTPRequest.RESULT_SUCCESS:
			var n = instance_from_id(id)
			print("  missing or failed: node ", i, " ", results.get(id), " requesting ",
					n.is_requesting(), " status ", n.get_http_client_status(), " ",
					n.get_error_message())
	var st = s.get_stats()
	print("STATS many ", to_json(st))
	check(st["opened"] <= 3 and st["opened"] + st["reused"] == 16, "3 connections shared")
	check(st["queued"] >= 1 and st["waiting"] == 0 and st["active"] == 0, "queued, then none")


func freed_while_queued():
	var s = Sess.new()
	s.set_max_per_origin(1)
	var first = make(s)
	var b = make(s)
	var c = make(s)
	check(first.request(base + "/slow/odd-100003.bin?fq=1") == OK, "first request")
	check(b.request(base + "/?fq=2") == OK, "queued b")
	check(c.request(base + "/?fq=3") == OK, "queued c")
	yield(frames(2), "completed")
	check(s.get_stats()["waiting"] == 2, "two waiting")
	b.free()
	c.queue_free()
	yield(frames(2), "completed")
	check(s.get_stats()["waiting"] == 0, "freed nodes left the queue")
	var ok = yield(wait_for([first.get_instance_id()], 2000), "completed")
	check(ok and results[first.get_instance_id()][0] == HTTPRequest.RESULT_SUCCESS, "first done")
	var d = make(s)
	d.request(base + "/?fq=4")
	ok = yield(wait_for([d.get_instance_id()], 1000), "completed")
	check(ok and results[d.get_instance_id()][1] == 200, "next request after frees")
	var st = s.get_stats()
	check(st["active"] == 0 and st["waiting"] == 0 and st["reused"] >= 1, "pool consistent")


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
		check(ok and results[waiting.get_instance_id()][1] == 200,
				"the queued node ran after queue_free (threads %s)" % threads)
	var st = s.get_stats()
	check(st["active"] == 0 and st["waiting"] == 0, "no slot leaked")


func default_session():
	var a = make(null)
	check(a.is_using_session() and a.get_session() == null, "default session in use")
	var before = a.get_session_stats()
	a.request(base + "/?default=1")
	yield(wait_for([a.get_instance_id()], 1000), "completed")
	results.erase(a.get_instance_id())
	a.request(base + "/?default=2")
	yield(wait_for([a.get_instance_id()], 1000), "completed")
	var after = a.get_session_stats()
	check(after["reused"] > before["reused"], "the default session reused a connection")
	var view = Sess.new()
	view.use_default_session()
	check(view.is_default_session() and view.get_stats()["reused"] == after["reused"],
			"PyHTTPSession.use_default_session shows the same session")
	check(a.set_session(null) == OK and not a.is_using_session(), "set_session(null)")
	check(a.set_session(Reference.new()) == ERR_INVALID_PARAMETER, "non-session refused")
	check(a.use_default_session() == OK and a.is_using_session(), "use_default_session")


func cookies():
	yield(self, "idle_frame")
	if httpbin == "":
		check(false, "GDHTTP_TEST_HTTPBIN set")
		return
	var s = Sess.new()
	s.set_cookies_enabled(true)
	var n = make(s)
	n.request(httpbin + "/cookies/set?gdcookie=yum")
	yield(wait_for([n.get_instance_id()], 1000), "completed")
	check("yum" in results.get(n.get_instance_id(), [0, 0, ""])[2], "cookie sent back")
	var off = make(Sess.new())
	off.request(httpbin + "/cookies/set?gdcookie=no")
	yield(wait_for([off.get_instance_id()], 1000), "completed")
	check(not ("gdcookie" in results.get(off.get_instance_id(), [0, 0, "gdcookie"])[2]),
			"cookies off by default")
	check(s.get_stats()["cookies"] == 1, "one cookie stored")
	check(s.save_cookies("user://gd-cookies.txt", true) == OK, "save_cookies to user://")
	var later = Sess.new()
	check(later.load_cookies("user://gd-cookies.txt") == OK, "load_cookies from user://")
	check(later.get_stats()["cookies"] == 1, "the cookie came back")
	check(later.load_cookies("user://none.txt") == ERR_FILE_NOT_FOUND, "missing file")
	s.clear()
	check(s.get_stats()["cookies"] == 0, "clear() forgets cookies")
