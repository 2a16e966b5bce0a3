# res:// and user:// paths through PyHTTPClient, PyHTTPRequest and the Python probe.
extends "res://suite_base.gd"

var env = {}

func run():
	for key in ["HTTPS_URL", "HTTP_URL", "UPLOAD_SHA", "FILE_SHA"]:
		env[key] = OS.get_environment("GDHTTP_" + key)
	var probe = load("res://PathsProbe.gdns").new()
	check_eq("engine file system installed", probe.installed_file_system(), "EngineFileSystem")
	check_eq("packed read of res://", probe.packed_sha256("res://upload.bin"), env["UPLOAD_SHA"])
	var missing = probe.packed_missing("res://nope/missing.pem")
	check("packed missing names the path", "res://nope/missing.pem" in missing, missing)
	var imported = probe.import_packed("packed.packed_mod")
	check_eq("module imported through File", imported, "42 from res://packed/packed_mod.py")
	check_eq("missing module", probe.import_packed("packed.absent"), "missing")

	var http = PyHTTPClient.new()
	var err = http.set_trusted_certificates("res://certs/missing.pem")
	check_eq("missing CA is ERR_FILE_NOT_FOUND", err, ERR_FILE_NOT_FOUND)
	check("message names the path", "res://certs/missing.pem" in http.get_error_message(), http.get_error_message())
	check_eq("CA from res://", http.set_trusted_certificates("res://certs/ca.pem"), OK)
	check_eq("CRL refused for missing file", http.set_crl("user://no-such.crl"), ERR_FILE_NOT_FOUND)
	var state = https_get(http)
	if state is GDScriptFunctionState:
		state = yield(state, "completed")
	check_eq("HTTPS with a res:// CA", state, 200)

	var req = PyHTTPRequest.new()
	get_root().add_child(req)
	check_eq("node CA from res://", req.set_trusted_certificates("res://certs/ca.pem"), OK)
	req.download_file = "user://dl.bin"
	check_eq("download_file keeps the script's path", req.download_file, "user://dl.bin")
	check_eq("download starts", req.request(env["HTTPS_URL"] + "/files/64k.bin"), OK)
	var done = yield(req, "request_completed")
	check_eq("download to user:// result", [done[0], done[1]], [0, 200])
	var f = File.new()
	check_eq("user:// file sha256", f.get_sha256("user://dl.bin"), env["FILE_SHA"])

	check_eq("upload from res:// starts", req.request_file(env["HTTP_URL"] + "/upload/from-res.bin", "res://upload.bin"), OK)
	req.download_file = ""
	done = yield(req, "request_completed")
	check_eq("upload from res:// result", [done[0], done[1]], [0, 201])
	check_eq("missing upload file", req.request_file(env["HTTP_URL"] + "/upload/x.bin", "res://none.bin"), ERR_FILE_NOT_FOUND)
	check_eq("multipart from res:// starts", req.request_multipart(env["HTTP_URL"] + "/post-store/multi.bin", {"title": "x"}, {"file": "res://upload.bin"}), OK)
	done = yield(req, "request_completed")
	check_eq("multipart from res:// result", [done[0], done[1]], [0, 201])
	req.queue_free()

func https_get(http):
	var url = env["HTTPS_URL"]
	var hostport = url.substr(8, url.length() - 8).split(":")
	http.connect_to_host(hostport[0], int(hostport[1]), true, true)
	for i in range(500):
		http.poll()
		if not http.get_status() in [HTTPClient.STATUS_RESOLVING, HTTPClient.STATUS_CONNECTING]:
			break
		yield(self, "idle_frame")
	if http.get_status() != HTTPClient.STATUS_CONNECTED:
		return "status %d: %s" % [http.get_status(), http.get_error_message()]
	http.request(HTTPClient.METHOD_GET, "/files/1k.bin", [])
	for i in range(500):
		http.poll()
		if http.get_status() != HTTPClient.STATUS_REQUESTING:
			break
		yield(self, "idle_frame")
	return http.get_response_code()
