# Drives the same scenarios with the engine's HTTPClient and with PyHTTPClient and
# prints one "SCENARIO <json>" line per scenario; pytest compares the two results.
# Scenarios come from the JSON file named by GDHTTP_SCENARIO_FILE.
extends "res://suite_base.gd"

const WAIT_MS = 15000

func run():
	var f = File.new()
	var path = OS.get_environment("GDHTTP_SCENARIO_FILE")
	if f.open(path, File.READ) != OK:
		check("scenario_file", false, path)
		return
	var scenarios = parse_json(f.get_as_text())
	f.close()
	for sc in scenarios:
		var native = drive(HTTPClient.new(), sc)
		var py = drive(PyHTTPClient.new(), sc)
		print("SCENARIO ", to_json({"name": sc["name"], "native": native, "py": py}))
		passed += 1

func note(r, status):
	var s = r["statuses"]
	if s.empty() or s[s.size() - 1] != status:
		s.append(status)

func pending(c, states, deadline):
	return c.get_status() in states and OS.get_ticks_msec() < deadline

func drive(c, sc):
	var r = {"statuses": [], "poll_errors": [], "responses": []}
	var deadline = OS.get_ticks_msec() + WAIT_MS
	c.read_chunk_size = int(sc.get("chunk", 65536))
	r["connect"] = c.connect_to_host(sc["host"], int(sc["port"]), sc.get("tls", false), sc.get("verify", true))
	note(r, c.get_status())
	while pending(c, [HTTPClient.STATUS_RESOLVING, HTTPClient.STATUS_CONNECTING], deadline):
		var e = c.poll()
		if e != OK:
			r["poll_errors"].append(e)
		note(r, c.get_status())
		OS.delay_usec(300)
	if c.get_status() != HTTPClient.STATUS_CONNECTED:
		r["final"] = c.get_status()
		c.close()
		return r
	for q in sc["requests"]:
		r["responses"].append(one_request(c, q, r, deadline))
		if c.get_status() != HTTPClient.STATUS_CONNECTED:
			break
	r["final"] = c.get_status()
	c.close()
	note(r, c.get_status())
	return r

func one_request(c, q, r, deadline):
	var resp = {}
	var headers = PoolStringArray(q.get("headers", []))
	var err
	if q.get("raw", false):
		err = c.request_raw(int(q["method"]), q["url"], headers, q.get("body", "").to_utf8())
	else:
		err = c.request(int(q["method"]), q["url"], headers, q.get("body", ""))
	resp["request"] = err
	note(r, c.get_status())
	while pending(c, [HTTPClient.STATUS_REQUESTING], deadline):
		var e = c.poll()
		if e != OK:
			r["poll_errors"].append(e)
		note(r, c.get_status())
		OS.delay_usec(300)
	resp["has_response"] = c.has_response()
	resp["code"] = c.get_response_code()
	resp["chunked"] = c.is_response_chunked()
	resp["body_length"] = c.get_response_body_length()
	# The engine hands the headers out once (the list is cleared), so the
	# scenario picks which accessor goes first.
	if q.get("dict_first", false):
		resp["headers_dict"] = c.get_response_headers_as_dictionary()
		resp["headers"] = c.get_response_headers()
	else:
		resp["headers"] = c.get_response_headers()
		resp["headers_dict"] = c.get_response_headers_as_dictionary()
	var body = PoolByteArray()
	var reads = 0
	while pending(c, [HTTPClient.STATUS_BODY], deadline):
		c.poll()
		note(r, c.get_status())
		var chunk = c.read_response_body_chunk()
		note(r, c.get_status())
		if chunk.size() == 0:
			OS.delay_usec(300)
		else:
			reads += 1
			if chunk.size() > int(q.get("max_chunk", 1 << 30)):
				resp["oversized_chunk"] = chunk.size()
			body.append_array(chunk)
	resp["body_size"] = body.size()
	resp["body_sha256"] = body.hex_encode().sha256_text() if body.size() > 0 else ""
	resp["body_head"] = body.subarray(0, min(body.size(), 64) - 1).get_string_from_utf8() if body.size() > 0 else ""
	return resp
