# A request must finish whatever the script does with the node's own process flags:
# the engine's HTTPRequest steps itself with internal processing, and so must PyHTTPRequest.
extends "res://suite_base.gd"

var results = {}

func _done(result, code, headers, body, name):
	results[name] = [result, code, body.size()]

func run():
	var url = OS.get_environment("GDHTTP_URL")
	for kind in ["native", "py"]:
		for threads in [false, true]:
			var node = HTTPRequest.new() if kind == "native" else PyHTTPRequest.new()
			var name = "%s threads=%s" % [kind, threads]
			node.use_threads = threads
			get_root().add_child(node)
			node.connect("request_completed", self, "_done", [name])
			node.set_process(false)
			node.set_physics_process(false)
			check_eq(name + " starts", node.request(url), OK)
			node.set_process(false)  # after request() too: it must not matter
			# By the clock, not by frames: headless frames can be far shorter than 1/60 s.
			var deadline = OS.get_ticks_msec() + 20000
			while not name in results and OS.get_ticks_msec() < deadline:
				yield(self, "idle_frame")
			check(name + " completed with set_process(false)", name in results, "no completion in 20 s")
			check_eq(name + " result", results.get(name), [HTTPRequest.RESULT_SUCCESS, 200, 1024])
			node.queue_free()
