# get_error_message() after refusals the bridge makes (wrong types, arity) and after a
# failed TLS setter on the node: the reason must be there, not "".
extends "res://suite_base.gd"

func run():
	var http = PyHTTPClient.new()
	http.connect_to_host(123)
	var msg = http.get_error_message()
	check("client: bridge refusal kept", "connect_to_host" in msg and "host" in msg, msg)
	http.set_read_chunk_size("big")
	msg = http.get_error_message()
	check("client: newest refusal wins", "set_read_chunk_size" in msg, msg)
	http.set_read_chunk_size(1)
	msg = http.get_error_message()
	check("client: the client's own refusal follows", "set_read_chunk_size" in msg and "outside" in msg, msg)

	var req = PyHTTPRequest.new()
	get_root().add_child(req)
	check_eq("node: missing CA", req.set_trusted_certificates("res://no/ca.pem"), ERR_FILE_NOT_FOUND)
	msg = req.get_error_message()
	check("node: TLS setter reason", "res://no/ca.pem" in msg, msg)
	req.request(42)
	msg = req.get_error_message()
	check("node: bridge refusal kept", "request" in msg and "url" in msg, msg)
	req.queue_free()
