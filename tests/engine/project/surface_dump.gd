# Prints the surface the engine registered for each gdhttp class: what the class reference
# (docs/reference/) must list. One line per member: SURFACE <class> <kind> <name>.
extends SceneTree

func _init():
	for path in ["res://addons/gdhttp/PyHTTPClient.gdns", "res://addons/gdhttp/PyHTTPRequest.gdns",
			"res://addons/gdhttp/PyHTTPSession.gdns", "res://addons/gdhttp/PyEventSource.gdns"]:
		var script = load(path)
		var name = path.get_file().get_basename()
		for m in script.get_script_method_list():
			print("SURFACE %s method %s" % [name, m["name"]])
		for p in script.get_script_property_list():
			print("SURFACE %s property %s" % [name, p["name"]])
		for s in script.get_script_signal_list():
			print("SURFACE %s signal %s" % [name, s["name"]])
	quit(0)
