# PyHTTPRequest's API without a server: defaults, refusals, tree rules, signals.
# Where the engine's HTTPRequest is comparable, both are asked the same thing.
extends "res://suite_base.gd"

var got = []

func _on_done(result, code, headers, body):
	got.append([result, code])

func run():
	var py = PyHTTPRequest.new()
	var native = HTTPRequest.new()
	# Outside the tree: ERR_UNCONFIGURED, no signal.
	check_eq("unconfigured_native", native.request("http://127.0.0.1:1/"), ERR_UNCONFIGURED)
	check_eq("unconfigured_py", py.request("http://127.0.0.1:1/"), ERR_UNCONFIGURED)
	get_root().add_child(py)
	get_root().add_child(native)
	py.connect("request_completed", self, "_on_done")
	# Defaults (3.5's; 3.2.3's download_chunk_size is 4096, timeout an int).
	check_eq("default_download_file", py.download_file, native.download_file)
	check_eq("default_use_threads", py.use_threads, native.use_threads)
	check_eq("default_body_size_limit", py.body_size_limit, native.body_size_limit)
	check_eq("default_max_redirects", py.max_redirects, native.max_redirects)
	check_eq("default_download_chunk_size", py.download_chunk_size, 65536)
	check_eq("default_timeout", py.timeout, 0.0)
	check_eq("default_accept_gzip", py.accept_gzip, true)
	check_eq("status_idle", py.get_http_client_status(), native.get_http_client_status())
	check_eq("body_size_idle", py.get_body_size(), native.get_body_size())
	check_eq("downloaded_idle", py.get_downloaded_bytes(), native.get_downloaded_bytes())
	# Setters.
	py.max_redirects = 3
	check_eq("set_max_redirects", py.max_redirects, 3)
	py.timeout = 2.5
	check_eq("set_timeout", py.timeout, 2.5)
	py.timeout = -1.0
	check_eq("negative_timeout_refused", py.timeout, 2.5)
	py.timeout = 0.0
	py.download_chunk_size = 100
	check_eq("chunk_size_range", py.download_chunk_size, 65536)
	py.download_chunk_size = 4096
	check_eq("set_chunk_size", py.download_chunk_size, 4096)
	py.download_file = "user://x.bin"
	check_eq("download_file_kept_as_given", py.download_file, "user://x.bin")
	py.download_file = ""
	# Bad URLs: ERR_INVALID_PARAMETER, no signal.
	check_eq("ftp_native", native.request("ftp://foo.com/"), ERR_INVALID_PARAMETER)
	check_eq("ftp_py", py.request("ftp://foo.com/"), ERR_INVALID_PARAMETER)
	check_eq("no_scheme_py", py.request("foo.com/"), ERR_INVALID_PARAMETER)
	check_eq("two_ports_py", py.request("http://foo.com:8080:433/"), ERR_INVALID_PARAMETER)
	check_eq("injection_refused_py", py.request("http://127.0.0.1:1/", ["X: a\r\nY: b"]), ERR_INVALID_PARAMETER)
	# Busy, then cancel, then OK again; cancel never signals.
	var listener = TCP_Server.new()
	var port = 0
	for p in range(47000, 47100):
		if listener.listen(p, "127.0.0.1") == OK:
			port = p
			break
	var url = "http://127.0.0.1:%d/" % port
	check_eq("first_request", py.request(url), OK)
	check_eq("busy", py.request(url), ERR_BUSY)
	check("property_locked_while_busy", true)
	py.use_threads = true
	check_eq("use_threads_refused_while_busy", py.use_threads, false)
	py.cancel_request()
	check_eq("status_after_cancel", py.get_http_client_status(), HTTPClient.STATUS_DISCONNECTED)
	check_eq("again_after_cancel", py.request(url), OK)
	yield(frames(5), "completed")
	# Leaving the tree cancels silently.
	get_root().remove_child(py)
	yield(frames(5), "completed")
	check_eq("exit_tree_silent", got, [])
	check_eq("exit_tree_cancelled", py.get_http_client_status(), HTTPClient.STATUS_DISCONNECTED)
	check_eq("outside_again", py.request(url), ERR_UNCONFIGURED)
	get_root().add_child(py)
	# Completion arrives deferred, once, at the end of a frame; a new request
	# may start from the handler (the engine resets before emitting).
	check_eq("refused_request", py.request("http://127.0.0.1:1/"), OK)
	check_eq("not_synchronous", got, [])
	for i in range(100):
		if not got.empty():
			break
		yield(frames(1), "completed")
	check_eq("cant_connect_signal", got, [[HTTPRequest.RESULT_CANT_CONNECT, 0]])
	check_eq("idle_again", py.is_requesting(), false)
	check_eq("not_processing_when_idle", py.is_processing(), false)
	# Upload helpers refuse what can't be sent.
	check_eq("request_file_missing", py.request_file(url, "/nonexistent-gdhttp/file"), ERR_FILE_NOT_FOUND)
	check_eq("multipart_missing_file", py.request_multipart(url, {"a": "b"}, {"f": "/nonexistent-gdhttp/f"}), ERR_FILE_NOT_FOUND)
	listener.stop()
	py.queue_free()
	native.queue_free()
	yield(frames(2), "completed")
