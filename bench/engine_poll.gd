# Engine micro-benchmark: idle poll() cost and a large download, native HTTPClient
# vs PyHTTPClient in the same engine run. Prints "BENCH <json>" lines.
# Env: GDHTTP_PORT (nginx), GDHTTP_FILE (path under /files/), GDHTTP_POLLS.
extends SceneTree

func _init():
	var port = int(OS.get_environment("GDHTTP_PORT"))
	var polls = int(OS.get_environment("GDHTTP_POLLS")) if OS.has_environment("GDHTTP_POLLS") else 200000
	var url = "/files/" + OS.get_environment("GDHTTP_FILE")
	var empty_loop = time_loop(null, polls)
	for kind in ["native", "py"]:
		var c = make(kind)
		var idle_disconnected = time_loop(c, polls) - empty_loop
		connect_and_wait(c, port)
		var got = fetch(c, "/files/1k.bin")
		var idle_connected = time_loop(c, polls) - empty_loop
		print("BENCH ", to_json({"client": kind, "metric": "idle_poll_disconnected_us", "value": idle_disconnected}))
		print("BENCH ", to_json({"client": kind, "metric": "idle_poll_connected_us", "value": idle_connected, "status": c.get_status(), "warmup_bytes": got}))
		c.close()
	for kind in ["native", "py"]:
		for chunk in [65536, 262144, 1048576]:
			var c = make(kind)
			c.read_chunk_size = chunk
			connect_and_wait(c, port)
			var t0 = OS.get_ticks_usec()
			var size = fetch(c, url)
			var secs = (OS.get_ticks_usec() - t0) / 1000000.0
			print("BENCH ", to_json({"client": kind, "metric": "download_MiBps", "chunk": chunk, "bytes": size, "seconds": secs, "value": size / 1048576.0 / secs}))
			c.close()
	quit(0)

func make(kind):
	return HTTPClient.new() if kind == "native" else PyHTTPClient.new()

func time_loop(c, n):
	var t0 = OS.get_ticks_usec()
	if c == null:
		for i in range(n):
			pass
	else:
		for i in range(n):
			c.poll()
	return float(OS.get_ticks_usec() - t0) / n

func connect_and_wait(c, port):
	c.connect_to_host("127.0.0.1", port)
	while c.get_status() in [HTTPClient.STATUS_RESOLVING, HTTPClient.STATUS_CONNECTING]:
		c.poll()
		OS.delay_usec(100)

func fetch(c, url):
	c.request(HTTPClient.METHOD_GET, url, [])
	while c.get_status() == HTTPClient.STATUS_REQUESTING:
		c.poll()
		OS.delay_usec(50)
	var size = 0
	while c.get_status() == HTTPClient.STATUS_BODY:
		c.poll()
		var chunk = c.read_response_body_chunk()
		size += chunk.size()
	return size
