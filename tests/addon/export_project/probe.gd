# Loads the addon's classes the way a game does and reports whether they can be used.
extends SceneTree

func _init():
	for name in ["PyHTTPClient", "PyHTTPRequest"]:
		var script = load("res://addons/gdhttp/%s.gdns" % name)
		print("CAN_INSTANCE %s %s" % [name, script != null and script.can_instance()])
	quit(0)
