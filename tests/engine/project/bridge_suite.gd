# Bridge-level checks: conversions, registration, errors, signals, nodes, memory.
extends "res://suite_base.gd"

var got_signal = []

func on_pinged(value):
	got_signal.append(value)

func suite_method(x):
	return [x, "from gdscript"]

func run():
	var p = BridgeProbe.new()
	conversions(p)
	arguments(p)
	errors(p)
	properties(p)
	engine_calls(p)
	yield(nodes(), "completed")
	memory(p)
	p = null

func conversions(p):
	var samples = {
		"nil": null, "true": true, "false": false, "zero": 0, "neg": -1,
		"big": 1099511627776, "min": -9223372036854775807, "real": 1.5, "empty_str": "",
		"unicode": "héllo ✓ 𝄞", "empty_bytes": PoolByteArray(),
		"bytes": PoolByteArray([0, 1, 127, 128, 255]), "strings": PoolStringArray(["a", "", "ü"]),
		"empty_strings": PoolStringArray(), "array": [1, "a", [2.5, null], {"k": true}],
		"empty_array": [], "dict": {"z": 1, "a": 2, "m": [3]}, "empty_dict": {},
		"int_keys": {1: "one", 2: "two"}, "vector2": Vector2(1, 2), "color": Color(1, 0, 0),
		"nodepath": NodePath("a/b"),
	}
	for name in samples:
		check_eq("roundtrip_" + name, p.echo(samples[name]), samples[name])
	var bytes_all = PoolByteArray()
	for i in range(256):
		bytes_all.append(i)
	check_eq("roundtrip_bytes_all", p.echo(bytes_all), bytes_all)
	var ref = Reference.new()
	check("roundtrip_reference", p.echo(ref) == ref)
	check("roundtrip_object_self", p.echo(self) == self)
	check("roundtrip_probe_itself", p.echo(p) == p)
	check_eq("py_type_str", p.types_of("x"), "str")
	check_eq("py_type_bytes", p.types_of(PoolByteArray([1])), "bytes")
	check_eq("py_type_dict", p.types_of({}), "dict")
	check_eq("py_type_int", p.types_of(3), "int")
	check_eq("py_type_float", p.types_of(3.0), "float")
	check_eq("py_type_object", p.types_of(self), "GodotObject")
	var s = p.strings_out(3)
	check_eq("return_pool_string_array", s, PoolStringArray(["s0", "s1", "s2"]))
	var b = p.bytes_out(300)
	check("return_pool_byte_array", typeof(b) == TYPE_RAW_ARRAY and b.size() == 300 and b[255] == 255 and b[299] == 43, str(b.size()))
	var d = p.dict_out()
	check_eq("return_dict_order", d.keys(), ["z", "a", "m"])
	check_eq("return_dict_nested", d["a"], [1, 2.5, "three", null, true])
	check_eq("return_dict_bytes", d["m"]["k"], PoolByteArray([0, 1]))
	check_eq("return_nil", p.noop(), null)

func arguments(p):
	check_eq("typed_args", p.typed(1, 2.5, "s", true), "1|2.5|s|True")
	check_eq("typed_coercion", p.typed(1.0, 2, "s", 1), "1|2.0|s|True")
	check_eq("defaults_all", p.with_defaults(1), "1-10-x")
	check_eq("defaults_some", p.with_defaults(1, 2), "1-2-x")
	check_eq("defaults_none", p.with_defaults(1, 2, "y"), "1-2-y")
	check_eq("array_to_pool_strings", p.needs_strings(["a", "b"]), "a,b")
	check_eq("pool_strings", p.needs_strings(PoolStringArray(["c"])), "c")
	check_eq("array_to_pool_bytes", p.needs_bytes([1, 2, 3]), 3)

func errors(p):
	# Every one of these prints an error through Godot and returns the fallback.
	check_eq("too_few_args", p.typed(1), null)
	check_eq("too_many_args", p.zero(1, 2), null)
	check_eq("wrong_type_int_for_bytes", p.needs_bytes(3), null)
	check_eq("null_for_bytes", p.needs_bytes(null), null)
	check_eq("object_for_str", p.typed(1, 2.0, self, true), null)
	check_eq("bad_array_items", p.needs_strings([1, 2]), null)
	check_eq("exception_error_method", p.boom(), FAILED)
	check_eq("exception_value_method", p.boom_value(), null)
	check_eq("bad_args_error_method", p.status("x"), ERR_INVALID_PARAMETER)
	check_eq("error_enum_return", p.status(ERR_BUSY), ERR_BUSY)
	check_eq("engine_call_error", p.bad_engine_call(), null)
	check_eq("still_running_after_errors", p.echo(5), 5)

func properties(p):
	check_eq("export_default_str", p.label, "probe")
	check_eq("export_default_int", p.count, 3)
	p.count = 7
	check_eq("export_set", p.count, 7)
	p.set("count", "not an int")
	check_eq("export_bad_type_keeps_value", p.count, 7)
	var q = BridgeProbe.new()
	check_eq("export_per_instance", q.count, 3)

func engine_calls(p):
	p.connect("pinged", self, "on_pinged")
	check_eq("signal_emit_returns", p.emit(42), true)
	check_eq("signal_received", got_signal, [42])
	check_eq("call_into_gdscript", p.call_back(self, "suite_method", 5), [5, "from gdscript"])
	p.disconnect("pinged", self, "on_pinged")

func nodes():
	var n = ProbeNode.new()
	n.name = "Probe"
	var kid = Node.new()
	kid.name = "Kid"
	n.add_child(kid)
	get_root().add_child(n)
	check_eq("node_ready", n.was_ready(), true)
	yield(frames(6), "completed")
	check("node_process_ran", n.get_ticks() == 3, str(n.get_ticks()))
	check_eq("node_get_node", n.child_name("Kid"), "Kid")
	n.defer("queue_free")
	yield(frames(2), "completed")
	check("node_call_deferred_free", not is_instance_valid(n))

func memory(p):
	var data = PoolByteArray()
	data.resize(4096)
	for i in range(20000):
		p.echo({"k": [i, "v", data]})
	var objects = Performance.get_monitor(Performance.OBJECT_COUNT)
	var rss = rss_kib()
	var t0 = OS.get_ticks_msec()
	for i in range(100000):
		p.echo({"k": [i, "v", data]})
	var grown = rss_kib() - rss
	print("memory: rss grew %d KiB over 100k calls (%d ms)" % [grown, OS.get_ticks_msec() - t0])
	check("memory_flat_100k", grown < 2048, "rss grew %d KiB" % grown)
	check_eq("objects_flat_100k", Performance.get_monitor(Performance.OBJECT_COUNT), objects)
