# PyHTTPRequestNode: extendable, `is HTTPRequest`, holdable by an HTTPRequest-typed variable.
extends "res://suite_base.gd"

func run():
	var base = OS.get_environment("GDHTTP_URL")
	var client = load("res://api_client.gd").new()
	get_root().add_child(client)
	check("a subclass is an HTTPRequest", client is HTTPRequest)
	check("a subclass is a PyHTTPRequestNode", client is PyHTTPRequestNode)
	var typed: HTTPRequest = client
	check_eq("class name", typed.get_class(), "HTTPRequest")
	check_eq("fetch starts", client.fetch(base + "/files/64k.bin"), OK)
	check_eq("busy while running", typed.request(base + "/files/1k.bin"), ERR_BUSY)
	client.set_process(false)
	yield(_until_completed(client), "completed")
	check_eq("completed through the subclass", client.completed, [[HTTPRequest.RESULT_SUCCESS, 200, 65536]])
	check_eq("download_progress reached the subclass", client.progress, 65536)
	check_eq("downloaded bytes", typed.get_downloaded_bytes(), 65536)
	check_eq("body size", typed.get_body_size(), 65536)
	check("timeout stays a node property", typed.timeout == 10, str(typed.timeout))  # int in 3.2, float in 3.5+

	# The engine's properties reach gdhttp: a body_size_limit set on the node applies.
	client.completed.clear()
	typed.body_size_limit = 1000
	check_eq("limited fetch starts", typed.request(base + "/files/64k.bin"), OK)
	yield(_until_completed(client), "completed")
	check_eq("body_size_limit from the node", client.completed, [[HTTPRequest.RESULT_BODY_SIZE_LIMIT_EXCEEDED, 200, 0]])

	# download_file set with the engine's setter, and cancel.
	client.completed.clear()
	typed.body_size_limit = -1
	typed.set_download_file("user://sub.bin")
	check_eq("download_file request", typed.request(base + "/files/64k.bin"), OK)
	yield(_until_completed(client), "completed")
	var f = File.new()
	check("file written", f.file_exists("user://sub.bin"))
	check_eq("file size", _size("user://sub.bin"), 65536)
	typed.set_download_file("")
	check_eq("second request", typed.request(base + "/files/64k.bin"), OK)
	typed.cancel_request()
	check_eq("cancelled", typed.get_http_client_status(), HTTPClient.STATUS_DISCONNECTED)
	check("child core", client.get_node("_gdhttp") != null)
	client.queue_free()

func _until_completed(client):
	# By the clock, not by frames: headless frames can be far shorter than 1/60 s.
	var deadline = OS.get_ticks_msec() + 20000
	yield(self, "idle_frame")  # always a function state, even if the completion is in
	while client.completed.empty() and OS.get_ticks_msec() < deadline:
		yield(self, "idle_frame")

func _size(path):
	var f = File.new()
	if f.open(path, File.READ) != OK:
		return -1
	var n = f.get_len()
	f.close()
	return n
