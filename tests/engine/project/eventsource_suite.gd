# PyEventSource in a scene (events, reconnection, failure rules, set_process(false), freed
# mid-stream in every way) and PyHTTPRequest's body_streaming, against the devserver.
extends "res://suite_base.gd"

var base = ""
var seen = []


func _opened(name):
	seen.append([name, "opened"])

func _event(type, data, last_id, name):
	seen.append([name, "event", type, data, last_id])

func _error(result, message, name):
	seen.append([name, "error", result, message])

func entries(name, kind):
	var out = []
	for e in seen:
		if e[0] == name and e[1] == kind:
			out.append(e)
	return out

func watch(node, name):
	node.connect("opened", self, "_opened", [name])
	node.connect("event_received", self, "_event", [name])
	node.connect("error", self, "_error", [name])

func wait_for(name, kind, count, limit_ms = 20000):
	var deadline = OS.get_ticks_msec() + limit_ms
	while entries(name, kind).size() < count and OS.get_ticks_msec() < deadline:
		yield(self, "idle_frame")
	return entries(name, kind).size() >= count


func run():
	base = OS.get_environment("GDHTTP_URL")

	# --- events in order, then the end reconnects (CONNECTING) with Last-Event-ID
	var es = PyEventSource.new()
	get_root().add_child(es)
	watch(es, "basic")
	check_eq("default retry_ms", es.retry_ms, 3000)
	check_eq("closed before open", es.get_ready_state(), 2)
	es.retry_ms = 50
	check_eq("open", es.open(base + "/events?count=5&interval_ms=10"), OK)
	check_eq("connecting after open", es.get_ready_state(), 0)
	var ok = yield(wait_for("basic", "error", 1), "completed")
	check("basic: stream ended with an error event", ok, str(seen))
	var ids = []
	for e in entries("basic", "event"):
		ids.append(e[4])
	check_eq("basic: ids in order", ids, ["1", "2", "3", "4", "5"])
	check_eq("basic: opened once", entries("basic", "opened").size(), 1)
	check_eq("basic: type", entries("basic", "event")[0][2], "message")
	check("basic: data is the server's JSON", parse_json(entries("basic", "event")[4][3])["n"] == 5, str(seen))
	check_eq("basic: error result", entries("basic", "error")[0][2], HTTPRequest.RESULT_SUCCESS)
	check_eq("basic: reconnecting", es.get_ready_state(), 0)
	check_eq("basic: last event id", es.get_last_event_id(), "5")
	ok = yield(wait_for("basic", "opened", 2), "completed")
	check("basic: reopened after retry_ms", ok and es.get_connection_count() >= 2, str(seen))
	es.close()
	check_eq("basic: closed", es.get_ready_state(), 2)
	es.queue_free()

	# --- a server that ends the stream every 3 events: resumed without a gap
	es = PyEventSource.new()
	get_root().add_child(es)
	watch(es, "resume")
	es.retry_ms = 10
	es.open(base + "/events?count=9&interval_ms=2&close_after=3")
	ok = yield(wait_for("resume", "event", 9), "completed")
	ids = []
	for e in entries("resume", "event"):
		ids.append(e[4])
	check_eq("resume: no gap across reconnections", ids, ["1", "2", "3", "4", "5", "6", "7", "8", "9"])
	check("resume: reconnected", es.get_connection_count() >= 3, str(es.get_connection_count()))
	es.queue_free()

	# --- non-200 fails without reconnecting
	es = PyEventSource.new()
	get_root().add_child(es)
	watch(es, "404")
	es.retry_ms = 0
	es.open(base + "/status/404")
	ok = yield(wait_for("404", "error", 1), "completed")
	yield(frames(10), "completed")
	check_eq("404: one error", entries("404", "error").size(), 1)
	check_eq("404: request failed", entries("404", "error")[0][2], HTTPRequest.RESULT_REQUEST_FAILED)
	check_eq("404: closed", es.get_ready_state(), 2)
	check_eq("404: no reconnection", es.get_connection_count(), 1)
	es.queue_free()

	# --- set_process(false) does not stall it (internal processing)
	es = PyEventSource.new()
	get_root().add_child(es)
	watch(es, "noproc")
	es.set_process(false)
	es.set_physics_process(false)
	es.open(base + "/events?count=3&interval_ms=5")
	es.set_process(false)
	ok = yield(wait_for("noproc", "event", 3), "completed")
	check("noproc: events with set_process(false)", ok, str(entries("noproc", "event")))
	es.queue_free()

	# --- open outside the tree is refused
	es = PyEventSource.new()
	check_eq("outside the tree", es.open(base + "/events"), ERR_UNCONFIGURED)
	es.free()

	# --- freed mid-stream: free(), queue_free(), removed from the tree, free() in a handler
	var kept = []
	for how in ["free", "queue_free", "remove"]:
		es = PyEventSource.new()
		get_root().add_child(es)
		watch(es, how)
		es.open(base + "/events?count=100000&interval_ms=5")
		kept.append([es, how])
	es = PyEventSource.new()
	get_root().add_child(es)
	watch(es, "handler")
	es.connect("event_received", self, "_close_in_handler", [es])
	es.open(base + "/events?count=100000&interval_ms=0")
	ok = yield(wait_for("free", "event", 2), "completed")
	check("midstream: streaming before the free", ok, "")
	for item in kept:
		match item[1]:
			"free":
				item[0].free()
			"queue_free":
				item[0].queue_free()
			"remove":
				get_root().remove_child(item[0])
				item[0].free()
	var before = [entries("free", "event").size(), entries("remove", "event").size()]
	yield(frames(1), "completed")  # queue_free deletes at the end of the frame
	var queued = entries("queue_free", "event").size()
	yield(frames(20), "completed")
	check_eq("midstream: nothing after free() or removal", [entries("free", "event").size(), entries("remove", "event").size()], before)
	check_eq("midstream: nothing after queue_free's frame", entries("queue_free", "event").size(), queued)
	check_eq("midstream: close() in a handler stops the flood", entries("handler", "event").size(), 1)
	check_eq("midstream: closed from its handler", es.get_ready_state(), 2)
	es.queue_free()

	# --- body streaming on PyHTTPRequest (threads off and on) and on PyHTTPRequestNode
	for kind in ["py", "py threads", "node"]:
		var threads = kind == "py threads"
		var name = "stream " + kind
		var req = PyHTTPRequestNode.new() if kind == "node" else PyHTTPRequest.new()
		get_root().add_child(req)
		req.body_streaming = true
		req.use_threads = threads
		chunks = []
		completions = []
		req.connect("body_chunk_received", self, "_chunk")
		req.connect("request_completed", self, "_completed")
		check_eq(name + " starts", req.request(base + "/files/medium.bin"), OK)
		var deadline = OS.get_ticks_msec() + 20000
		while completions.empty() and OS.get_ticks_msec() < deadline:
			yield(self, "idle_frame")
		var body = PoolByteArray()
		for c in chunks:
			body.append_array(c)
		check_eq(name + " completion", completions, [[HTTPRequest.RESULT_SUCCESS, 200, 0]])
		check(name + " in pieces", chunks.size() > 1, str(chunks.size()))
		check_eq(name + " size", body.size(), 1048576)
		var ctx = HashingContext.new()
		ctx.start(HashingContext.HASH_SHA256)
		ctx.update(body)
		check_eq(name + " sha256", ctx.finish().hex_encode(), OS.get_environment("GDHTTP_MEDIUM_SHA256"))
		req.queue_free()


func _close_in_handler(_t, _d, _i, node):
	node.close()

var chunks = []
var completions = []
func _chunk(chunk):
	chunks.append(chunk)
func _completed(result, code, headers, body):
	completions.append([result, code, body.size()])
