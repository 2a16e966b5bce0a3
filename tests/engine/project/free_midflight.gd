extends SceneTree
# Frees PyHTTPRequest / PyHTTPClient objects in the middle of their work, in every
# way a game can: free(), queue_free(), leaving the tree, and quitting mid-request.

var url = ""
var frames = 0
var nodes = []


func _initialize():
	url = OS.get_environment("GDHTTP_TEST_URL")
	for threads in [false, true]:
		for how in ["free", "queue_free", "remove", "keep"]:
			var n = load("res://addons/gdhttp/PyHTTPRequest.gdns").new()
			n.use_threads = threads
			n.download_file = OS.get_environment("GDHTTP_TEST_TMP") + "/f-%s-%s.bin" % [threads, how]
			root.add_child(n)
			var err = n.request(url)
			if err != OK:
				print("FAIL request ", err)
			nodes.append([n, how])
	var c = load("res://addons/gdhttp/PyHTTPClient.gdns").new()
	c.connect_to_host("127.0.0.1", int(OS.get_environment("GDHTTP_TEST_PORT")))
	c = null  # freed while connecting


func _idle(_d):
	frames += 1
	if frames == 3:
		for item in nodes:
			var n = item[0]
			match item[1]:
				"free":
					n.free()
				"queue_free":
					n.queue_free()
				"remove":
					root.remove_child(n)
					n.free()
	if frames == 6:
		print("RESULT survived")
		quit(0)  # the "keep" nodes are still downloading: quit mid-request
	return false
