extends SceneTree
# SSE workloads (issue 14), one engine run, PyEventSource beside the same bytes read by
# the native HTTPClient and parsed in GDScript (what a game writes without gdhttp):
#   rate:    events/s delivered to GDScript, a burst of `burst` tiny events, and the
#            longest frame meanwhile (the native loop parses whatever a frame read);
#   latency: server write (time.monotonic_ns() in the event) to the handler, events
#            every `interval_ms`; median and p99, with the frame time of the same run.
# Prints "BENCH_ROW <json>" lines (bench/engine.py reads them). Config: GDHTTP_BENCH_CONFIG.

const JOB_TIMEOUT_MS = 120000

var cfg = {}
var clock = null
var count = 0
var latencies = []
var frame_times = []


func emit(workload, impl, unit, value):
	print("BENCH_ROW " + to_json({"workload": workload, "impl": impl, "unit": unit, "value": value}))


func _initialize():
	var f = File.new()
	f.open(OS.get_environment("GDHTTP_BENCH_CONFIG"), File.READ)
	cfg = parse_json(f.get_as_text())
	f.close()
	clock = load("res://BenchClock.gdns").new()
	call_deferred("_main")


func _main():
	for _run in range(int(cfg.runs)):
		for impl in ["PyEventSource", "native HTTPClient + GDScript parser"]:
			var state = rate_run(impl)
			if state is GDScriptFunctionState:
				state = yield(state, "completed")
			state = latency_run(impl)
			if state is GDScriptFunctionState:
				state = yield(state, "completed")
	print("BENCH_DONE")
	quit(0)


func path(n, interval_ms):
	return "/events?count=%d&interval_ms=%d" % [n, interval_ms]


# ---- PyEventSource

func _py_event(_type, data, _id, timed):
	count += 1
	if timed:
		latencies.append(clock.now_ns() - int(parse_json(data)["t_ns"]))


func py_stream(n, interval_ms, timed):
	var es = load("res://addons/gdhttp/PyEventSource.gdns").new()
	get_root().add_child(es)
	es.reconnecting = false
	es.connect("event_received", self, "_py_event", [timed])
	es.open("http://%s:%d%s" % [cfg.host, cfg.port, path(n, interval_ms)])
	var deadline = OS.get_ticks_msec() + JOB_TIMEOUT_MS
	var last = OS.get_ticks_usec()
	while count < n and OS.get_ticks_msec() < deadline:
		yield(self, "idle_frame")
		var now = OS.get_ticks_usec()
		frame_times.append(now - last)
		last = now
	es.close()
	es.queue_free()


# ---- native HTTPClient polled from GDScript, parsed in GDScript

func native_stream(n, interval_ms, timed):
	var c = HTTPClient.new()
	c.read_chunk_size = 65536
	c.connect_to_host(cfg.host, int(cfg.port))
	var deadline = OS.get_ticks_msec() + JOB_TIMEOUT_MS
	while c.get_status() in [HTTPClient.STATUS_RESOLVING, HTTPClient.STATUS_CONNECTING] and OS.get_ticks_msec() < deadline:
		c.poll()
		yield(self, "idle_frame")
	c.request(HTTPClient.METHOD_GET, path(n, interval_ms), ["Accept: text/event-stream"])
	while c.get_status() == HTTPClient.STATUS_REQUESTING and OS.get_ticks_msec() < deadline:
		c.poll()
		yield(self, "idle_frame")
	var buffer = ""
	var last = OS.get_ticks_usec()
	while count < n and OS.get_ticks_msec() < deadline:
		c.poll()
		var chunk = c.read_response_body_chunk()
		while chunk.size() > 0:
			buffer += chunk.get_string_from_utf8()
			chunk = c.read_response_body_chunk()
		# Events are cut out by index and the buffer trimmed once per frame: trimming it
		# per event would make the baseline quadratic in what one frame read.
		var pos = 0
		var end = buffer.find("\n\n")
		while end >= 0:
			var data = ""
			for line in buffer.substr(pos, end - pos).split("\n"):
				if line.begins_with("data:"):
					data = line.substr(5, line.length()).strip_edges(true, false)
			pos = end + 2
			count += 1
			if timed:
				latencies.append(clock.now_ns() - int(parse_json(data)["t_ns"]))
			end = buffer.find("\n\n", pos)
		buffer = buffer.substr(pos, buffer.length())
		if c.get_status() != HTTPClient.STATUS_BODY:
			break
		yield(self, "idle_frame")
		var now = OS.get_ticks_usec()
		frame_times.append(now - last)
		last = now
	c.close()


func stream(impl, n, interval_ms, timed):
	count = 0
	latencies = []
	frame_times = []
	var state = py_stream(n, interval_ms, timed) if impl == "PyEventSource" else native_stream(n, interval_ms, timed)
	if state is GDScriptFunctionState:
		yield(state, "completed")
	return count


func rate_run(impl):
	var n = int(cfg.burst)
	var t0 = OS.get_ticks_usec()
	var got = stream(impl, n, 0, false)
	if got is GDScriptFunctionState:
		got = yield(got, "completed")
	var secs = (OS.get_ticks_usec() - t0) / 1000000.0
	if got == n:
		emit("sse %d tiny events: delivered to GDScript" % n, impl, "ev/s", n / secs)
		# What the rate costs the game: its longest frame during the burst.
		emit("sse %d tiny events: longest frame" % n, impl, "ms", percentile(frame_times, 1.0) / 1000.0)
	else:
		print("BENCH_ERROR %s: %d of %d events" % [impl, got, n])


func percentile(values, p):
	var sorted = values.duplicate()
	sorted.sort()
	return sorted[min(sorted.size() - 1, int(sorted.size() * p))]


func latency_run(impl):
	var n = int(cfg.latency_events)
	var got = stream(impl, n, int(cfg.interval_ms), true)
	if got is GDScriptFunctionState:
		got = yield(got, "completed")
	if got != n:
		print("BENCH_ERROR %s latency: %d of %d events" % [impl, got, n])
		return
	var w = "sse latency, event every %d ms" % int(cfg.interval_ms)
	emit(w + ": median", impl, "ms", percentile(latencies, 0.5) / 1e6)
	emit(w + ": p99", impl, "ms", percentile(latencies, 0.99) / 1e6)
	emit(w + ": frame time", impl, "ms", percentile(frame_times, 0.5) / 1000.0)
