# Shared helpers for the engine suites: checks print PASS/FAIL lines, finish() quits
# with 0 only when every check passed (the pytest harness reads both).
extends SceneTree

var passed = 0
var failed = 0

func _init():
	call_deferred("_start")

func _start():
	var state = run()
	if state is GDScriptFunctionState:
		yield(state, "completed")
	finish()

func run():
	pass

func check(name, cond, detail = ""):
	if cond:
		passed += 1
		print("PASS ", name)
	else:
		failed += 1
		print("FAIL ", name, ": ", detail)

func check_eq(name, got, want):
	check(name, deep_eq(got, want), "got %s (type %d), want %s (type %d)" % [str(got), typeof(got), str(want), typeof(want)])

# Same type and same content, recursively; Dictionary key order counts.
func deep_eq(a, b):
	if typeof(a) != typeof(b):
		return false
	match typeof(a):
		TYPE_ARRAY, TYPE_STRING_ARRAY, TYPE_INT_ARRAY, TYPE_REAL_ARRAY:
			if a.size() != b.size():
				return false
			for i in range(a.size()):
				if not deep_eq(a[i], b[i]):
					return false
			return true
		TYPE_RAW_ARRAY:
			return a.size() == b.size() and a.hex_encode() == b.hex_encode()
		TYPE_DICTIONARY:
			return deep_eq(a.keys(), b.keys()) and deep_eq(a.values(), b.values())
		_:
			return a == b

func frames(n):
	for i in range(n):
		yield(self, "idle_frame")

func rss_kib():
	var f = File.new()
	if f.open("/proc/self/statm", File.READ) != OK:
		return -1
	# get_line(), not get_as_text(): 3.6 sizes the read by get_len(), which is 0 in /proc.
	var fields = f.get_line().split(" ")
	f.close()
	return int(fields[1]) * 4

func finish():
	print("RESULT passed=%d failed=%d" % [passed, failed])
	quit(0 if failed == 0 and passed > 0 else 1)
