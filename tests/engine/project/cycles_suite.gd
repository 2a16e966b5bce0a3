# 1000 create/request/free cycles of PyHTTPClient leak nothing: objects, Python
# instances, file descriptors and memory all come back to where they were.
extends "res://suite_base.gd"

const CYCLES = 1000

func fd_count():
	var d = Directory.new()
	var n = 0
	if d.open("/proc/self/fd") == OK:
		d.list_dir_begin(true)
		var name = d.get_next()
		while name != "":
			n += 1
			name = d.get_next()
		d.list_dir_end()
	return n

func cycle(port):
	var c = PyHTTPClient.new()
	var deadline = OS.get_ticks_msec() + 5000
	c.connect_to_host("127.0.0.1", port)
	while c.get_status() in [HTTPClient.STATUS_RESOLVING, HTTPClient.STATUS_CONNECTING] and OS.get_ticks_msec() < deadline:
		c.poll()
		OS.delay_usec(100)
	if c.request(HTTPClient.METHOD_GET, "/files/1k.bin", ["X-Cycle: 1"]) != OK:
		return -1
	while c.get_status() == HTTPClient.STATUS_REQUESTING and OS.get_ticks_msec() < deadline:
		c.poll()
		OS.delay_usec(100)
	var size = 0
	while c.get_status() == HTTPClient.STATUS_BODY and OS.get_ticks_msec() < deadline:
		c.poll()
		size += c.read_response_body_chunk().size()
	return size
	# c goes out of scope here: refcount 0, the engine frees it and the bridge drops it

func run():
	var port = int(OS.get_environment("GDHTTP_PORT"))
	var probe = BridgeProbe.new()
	for i in range(100):
		cycle(port)
	var objects = Performance.get_monitor(Performance.OBJECT_COUNT)
	var fds = fd_count()
	var rss = rss_kib()
	var live = probe.live_instances()
	var bad = 0
	var t0 = OS.get_ticks_msec()
	for i in range(CYCLES):
		if cycle(port) != 1024:
			bad += 1
	var ms = OS.get_ticks_msec() - t0
	print("cycles: %d in %d ms, rss %+d KiB, fds %d -> %d" % [CYCLES, ms, rss_kib() - rss, fds, fd_count()])
	check_eq("cycles_all_complete", bad, 0)
	check_eq("cycles_objects_flat", Performance.get_monitor(Performance.OBJECT_COUNT), objects)
	check_eq("cycles_python_instances_flat", probe.live_instances(), live)
	check("cycles_fds_flat", fd_count() <= fds + 2, "%d -> %d" % [fds, fd_count()])
	check("cycles_rss_flat", rss_kib() - rss < 4096, "rss grew %d KiB" % (rss_kib() - rss))
