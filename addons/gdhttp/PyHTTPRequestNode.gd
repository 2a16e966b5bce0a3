# PyHTTPRequestNode: a real HTTPRequest node whose requests run on gdhttp.
#
# GDScript cannot extend a NativeScript class, and `PyHTTPRequest is HTTPRequest` is
# false, so code written around HTTPRequest (`extends HTTPRequest`, variables typed
# HTTPRequest) cannot take PyHTTPRequest as it is. This script can: it extends the
# engine's HTTPRequest and hands every request to a PyHTTPRequest child named
# "_gdhttp". The native node itself never sends anything.
#
#   extends PyHTTPRequestNode          # instead of: extends HTTPRequest
#   var http: HTTPRequest = PyHTTPRequestNode.new()
#
# The engine's properties (download_file, timeout, use_threads, body_size_limit,
# max_redirects, download_chunk_size, accept_gzip on 3.4+) stay on this node and are
# handed to gdhttp when a request starts. gdhttp's extras are methods here too.
extends HTTPRequest
class_name PyHTTPRequestNode

signal download_progress(downloaded, total)
signal upload_progress(sent, total)
signal body_chunk_received(chunk)

const CORE = preload("res://addons/gdhttp/PyHTTPRequest.gdns")
const SYNCED = ["download_file", "download_chunk_size", "use_threads", "body_size_limit",
		"max_redirects", "timeout", "accept_gzip"]

var download_resume = false setget set_download_resume, is_download_resume
var body_streaming = false setget set_body_streaming, is_body_streaming
var _core

func _init():
	_core = CORE.new()
	_core.name = "_gdhttp"
	_core.connect("request_completed", self, "_on_completed")
	_core.connect("download_progress", self, "_on_download_progress")
	_core.connect("upload_progress", self, "_on_upload_progress")
	_core.connect("body_chunk_received", self, "_on_body_chunk")
	add_child(_core)

func _sync():
	for property in SYNCED:
		var value = get(property)
		if value != null:  # accept_gzip exists from Godot 3.4 on
			_core.set(property, value)
	_core.download_resume = download_resume
	_core.body_streaming = body_streaming

# --- the engine's methods ---

func request(url, custom_headers = PoolStringArray(), ssl_validate_domain = true, method = HTTPClient.METHOD_GET, request_data = ""):
	if _core.is_requesting():
		return ERR_BUSY
	_sync()
	return _core.request(url, custom_headers, ssl_validate_domain, method, request_data)

func request_raw(url, custom_headers = PoolStringArray(), ssl_validate_domain = true, method = HTTPClient.METHOD_GET, request_data_raw = PoolByteArray()):
	if _core.is_requesting():
		return ERR_BUSY
	_sync()
	return _core.request_raw(url, custom_headers, ssl_validate_domain, method, request_data_raw)

func cancel_request():
	_core.cancel_request()

func get_http_client_status():
	return _core.get_http_client_status()

func get_downloaded_bytes():
	return _core.get_downloaded_bytes()

func get_body_size():
	return _core.get_body_size()

func set_http_proxy(host, port):
	_core.set_http_proxy(host, port)

func set_https_proxy(host, port):
	_core.set_https_proxy(host, port)

# --- gdhttp's extras ---

func request_file(url, file_path, custom_headers = PoolStringArray(), ssl_validate_domain = true, method = HTTPClient.METHOD_PUT):
	if _core.is_requesting():
		return ERR_BUSY
	_sync()
	return _core.request_file(url, file_path, custom_headers, ssl_validate_domain, method)

func request_multipart(url, fields, files, custom_headers = PoolStringArray(), ssl_validate_domain = true, method = HTTPClient.METHOD_POST):
	if _core.is_requesting():
		return ERR_BUSY
	_sync()
	return _core.request_multipart(url, fields, files, custom_headers, ssl_validate_domain, method)

func set_download_resume(enable):
	download_resume = bool(enable)

func is_download_resume():
	return download_resume

func set_body_streaming(enable):
	body_streaming = bool(enable)

func is_body_streaming():
	return body_streaming

func is_requesting():
	return _core.is_requesting()

func get_redirect_count():
	return _core.get_redirect_count()

func get_error_message():
	return _core.get_error_message()

func set_user_agent(user_agent):
	_core.set_user_agent(user_agent)

func set_trusted_certificates(pem_or_path):
	return _core.set_trusted_certificates(pem_or_path)

func set_use_certifi(enabled):
	return _core.set_use_certifi(enabled)

func set_pinned_public_keys(pins):
	return _core.set_pinned_public_keys(pins)

func set_min_tls_version(version):
	return _core.set_min_tls_version(version)

func set_client_certificate(cert_path, key_path = ""):
	return _core.set_client_certificate(cert_path, key_path)

func set_session(session):
	return _core.set_session(session)

func get_session():
	return _core.get_session()

func use_default_session():
	return _core.use_default_session()

func is_using_session():
	return _core.is_using_session()

func get_session_stats():
	return _core.get_session_stats()

# --- signals from the core, already delivered at the engine's moments ---

func _on_completed(result, response_code, headers, body):
	emit_signal("request_completed", result, response_code, headers, body)

func _on_download_progress(downloaded, total):
	emit_signal("download_progress", downloaded, total)

func _on_upload_progress(sent, total):
	emit_signal("upload_progress", sent, total)

func _on_body_chunk(chunk):
	emit_signal("body_chunk_received", chunk)
