extends SceneTree
# Runs every engine workload for native and Py classes, alternating, and prints one
# "BENCH_ROW <json>" line per sample. Configured by the JSON file named in
# GDHTTP_BENCH_CONFIG (written by bench/engine.py).

const PY_CLIENT = "res://addons/gdhttp/PyHTTPClient.gdns"
const PY_REQUEST = "res://addons/gdhttp/PyHTTPRequest.gdns"

var cfg = {}
var node_jobs = []
var node_job = null
var rss_peak = 0
var rss_start = 0


func emit(workload, impl, unit, value):
	print("BENCH_ROW " + to_json({"workload": workload, "impl": impl, "unit": unit, "value": value}))


func fail(msg):
	print("BENCH_ERROR " + msg)


func make_client(kind):
	if kind == "native":
		return HTTPClient.new()
	var c = load(PY_CLIENT).new()
	c.set_trusted_certificates(cfg["ca"])
	return c


func connect_client(c, tls):
	var host = "localhost" if tls else cfg["host"]
	var port = cfg["https_port"] if tls else cfg["http_port"]
	var err = c.connect_to_host(host, port, tls, true)
	if err != OK:
		return err
	var deadline = OS.get_ticks_msec() + 20000
	while c.get_status() == HTTPClient.STATUS_RESOLVING or c.get_status() == HTTPClient.STATUS_CONNECTING:
		c.poll()
		if OS.get_ticks_msec() > deadline:
			return ERR_TIMEOUT
	return OK if c.get_status() == HTTPClient.STATUS_CONNECTED else FAILED


func download(kind, tls, path, chunk, expect):
	var c = make_client(kind)
	c.read_chunk_size = chunk
	var t0 = OS.get_ticks_usec()
	if connect_client(c, tls) != OK:
		fail("%s download connect failed" % kind)
		return -1.0
	c.request(HTTPClient.METHOD_GET, path, PoolStringArray())
	while c.get_status() == HTTPClient.STATUS_REQUESTING:
		c.poll()
	var n = 0
	while c.get_status() == HTTPClient.STATUS_BODY:
		c.poll()
		n += c.read_response_body_chunk().size()
	var dt = OS.get_ticks_usec() - t0
	c.close()
	if n != expect:
		fail("%s download got %d of %d bytes" % [kind, n, expect])
		return -1.0
	return float(expect) / float(dt)


func keepalive(kind, count):
	var c = make_client(kind)
	if connect_client(c, false) != OK:
		return -1.0
	var t0 = OS.get_ticks_usec()
	for i in range(count):
		c.request(HTTPClient.METHOD_GET, "/files/1k.bin", PoolStringArray())
		while c.get_status() == HTTPClient.STATUS_REQUESTING:
			c.poll()
		var n = 0
		while c.get_status() == HTTPClient.STATUS_BODY:
			c.poll()
			n += c.read_response_body_chunk().size()
		if n != 1024:
			fail("%s keepalive got %d bytes" % [kind, n])
			return -1.0
	var dt = OS.get_ticks_usec() - t0
	c.close()
	return count * 1000000.0 / dt


func idle_poll(kind, count):
	var c = make_client(kind)
	if connect_client(c, false) != OK:
		return -1.0
	var t0 = OS.get_ticks_usec()
	for i in range(count):
		c.poll()
	var dt = OS.get_ticks_usec() - t0
	c.close()
	return float(dt) / count


func upload(kind, size):
	var body = PoolByteArray()
	body.resize(size)
	var c = make_client(kind)
	if connect_client(c, false) != OK:
		return [-1.0, -1.0]
	var t0 = OS.get_ticks_usec()
	var err = c.request_raw(HTTPClient.METHOD_PUT, "/upload/bench-%s.bin" % kind, PoolStringArray(), body)
	var durations = [OS.get_ticks_usec() - t0]
	if err != OK:
		fail("%s upload request_raw: %d" % [kind, err])
		return [-1.0, -1.0, -1.0]
	while c.get_status() == HTTPClient.STATUS_REQUESTING:
		var t = OS.get_ticks_usec()
		c.poll()
		durations.append(OS.get_ticks_usec() - t)
	var total = OS.get_ticks_usec() - t0
	var code = c.get_response_code()
	c.close()
	if code != 201 and code != 204:
		fail("%s upload answered %d" % [kind, code])
	durations.sort()
	var p99 = durations[int(durations.size() * 0.99)]
	return [total / 1000.0, durations[-1] / 1000.0, p99 / 1000.0]


func tls_connect(kind):
	var c = make_client(kind)
	var t0 = OS.get_ticks_usec()
	var err = connect_client(c, true)
	var dt = OS.get_ticks_usec() - t0
	c.close()
	if err != OK:
		fail("%s TLS connect failed" % kind)
		return -1.0
	return dt / 1000.0


func _initialize():
	var f = File.new()
	if f.open(OS.get_environment("GDHTTP_BENCH_CONFIG"), File.READ) != OK:
		fail("no config")
		quit(2)
		return
	cfg = parse_json(f.get_as_text())
	f.close()
	if cfg.get("mode", "") == "rss":
		# Alone in a fresh engine process, so earlier workloads' heap does not hide growth.
		if ResourceLoader.exists(PY_REQUEST):
			node_jobs.append(["py-rss", false, "1g.bin"])
		return
	var runs = int(cfg["runs"])
	var big = int(cfg["size_256m"])
	var kinds = ["native", "py"]
	var names = {"native": "native HTTPClient", "py": "PyHTTPClient"}
	for r in range(runs):
		for kind in kinds:
			for tls in [false, true]:
				for chunk in [65536, 1048576]:
					var w = "gd 256 MiB GET %s chunk %s" % ["HTTPS" if tls else "HTTP", "1 MiB" if chunk == 1048576 else "64 KiB"]
					emit(w, names[kind], "MB/s", download(kind, tls, "/files/256m.bin", chunk, big))
			emit("gd 1000 x 1 KiB GET keep-alive", names[kind], "req/s", keepalive(kind, 1000))
			emit("gd idle poll()", names[kind], "us", idle_poll(kind, 100000))
			var up = upload(kind, 64 * 1048576)
			emit("gd 64 MiB upload: total", names[kind], "ms", up[0])
			emit("gd 64 MiB upload: longest call", names[kind], "ms", up[1])
			emit("gd 64 MiB upload: p99 call", names[kind], "ms", up[2])
			for i in range(5):
				emit("TLS connect + handshake", names[kind], "ms", tls_connect(kind))
	# Node workloads need frames: queue them for _idle.
	if ResourceLoader.exists(PY_REQUEST):
		for r in range(runs):
			for tls in [false, true]:
				node_jobs.append(["native", tls, "32m.bin"])
				node_jobs.append(["py", tls, "32m.bin"])
	else:
		fail("PyHTTPRequest not available: node workloads skipped")


func rss_kib():
	var f = File.new()
	if f.open("/proc/self/status", File.READ) != OK:
		return 0
	# Line by line: Godot 3.6's get_as_text() sizes its read by get_len(), 0 in /proc.
	while not f.eof_reached():
		var line = f.get_line()
		if line.begins_with("VmRSS:"):
			f.close()
			return int(line.split(":")[1].strip_edges().split(" ")[0])
	f.close()
	return 0


func start_node_job(job):
	var kind = job[0]
	var tls = job[1]
	var node
	if kind == "native":
		node = HTTPRequest.new()
	else:
		node = load(PY_REQUEST).new()
		if node.has_method("set_trusted_certificates"):
			node.set_trusted_certificates(cfg["ca"])
	var target = cfg["tmp"] + "/dl-%s.bin" % kind
	node.download_file = target
	# 3.5's default on both (the 3.2.3 engine here defaults to 4096).
	node.download_chunk_size = 65536
	root.add_child(node)
	node.connect("request_completed", self, "_on_node_done")
	var url = ("https://localhost:%d" % cfg["https_port"]) if tls else ("http://%s:%d" % [cfg["host"], cfg["http_port"]])
	node_job = {"job": job, "node": node, "t0": OS.get_ticks_usec(), "done": false}
	rss_start = rss_kib()
	rss_peak = rss_start
	var err = node.request(url + "/files/" + job[2])
	if err != OK:
		fail("%s node request: %d" % [kind, err])
		node_job["done"] = true


func _on_node_done(result, code, headers, body):
	node_job["result"] = result
	node_job["code"] = code
	node_job["t1"] = OS.get_ticks_usec()
	node_job["done"] = true


func _idle(_delta):
	if node_job != null:
		var rss = rss_kib() if node_job["job"][0] == "py-rss" else 0
		rss_peak = max(rss_peak, rss)
		if not node_job["done"]:
			return false
		var job = node_job["job"]
		var size = int(cfg["size_1g"]) if job[2] == "1g.bin" else int(cfg["size_32m"])
		if node_job.get("result", -1) != 0 or node_job.get("code", 0) != 200:
			fail("%s download_file result %s code %s" % [job[0], node_job.get("result"), node_job.get("code")])
		elif job[0] == "py-rss":
			emit("1 GiB download_file: RSS growth", "PyHTTPRequest", "MiB", (rss_peak - rss_start) / 1024.0)
		else:
			var w = "gd download_file 32 MiB %s" % ["HTTPS" if job[1] else "HTTP"]
			var impl = "native HTTPRequest" if job[0] == "native" else "PyHTTPRequest"
			emit(w, impl, "MB/s", float(size) / float(node_job["t1"] - node_job["t0"]))
		node_job["node"].queue_free()
		node_job = null
	if node_jobs.empty():
		print("BENCH_DONE")
		quit(0)
		return false
	start_node_job(node_jobs.pop_front())
	return false
