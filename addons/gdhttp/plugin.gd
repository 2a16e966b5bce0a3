# gdhttp's editor plugin: PyHTTPRequest and PyEventSource (Nodes, in the Create Node dialog)
# and PyHTTPClient (a Reference) as custom types with their own icons, and the HTTP dock.
tool
extends EditorPlugin

const DIR = "res://addons/gdhttp/"
const TYPES = [["PyHTTPRequest", "Node"], ["PyHTTPClient", "Reference"], ["PyEventSource", "Node"]]
# The 16x16 icons as PNG bytes in base64. Shipped inside the script rather than as
# .png files: Godot 3.2's editor crashes (signal 11) on "--editor --quit" in any project
# holding an importable texture, and a plugin must not add one to every game that uses it.
const ICONS = {
	"PyEventSource": "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAYAAAAf8/9hAAAATUlEQVR42mNgQANL36/5D8MM5ABkAyg2jCouItkgfE4nyTWEDKHI6XgNIdZWnIbgCgOSXEGs04mOEaINIMavOA0gxe8kGUBWcmWgJwAAH6f59CXrE10AAAAASUVORK5CYII=",
	"PyHTTPClient": "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAYAAAAf8/9hAAAAZUlEQVR42mNgoDZwKDigBcSHgfg/GgaJaRHS3I9FIzrup0QzdkOgzoYrAAF0TVjEtJANOIysEAYIGHAY2QAUReg0LldhGECiF+hkAD5vYQ1EbLbhCNjD1ItGihMSVZIyVTITOQAA9Da71I5SKhkAAAAASUVORK5CYII=",
	"PyHTTPRequest": "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAYAAAAf8/9hAAAAbElEQVR42mNgoDZwWJCgBcSHgfg/GgaJaRHS3I9FIzruJ1ozDBA0BOrs/yQY8B/FOzj8TMiAw8gGoGjCZQC6YTgNgCnExcZrALJidICuDqcB2AzBpoaqgahFRALCHY0kpELSUyPRmqmSmcgBAPEzpwhtdsDJAAAAAElFTkSuQmCC",
}

var dock = null

func _enter_tree():
	var added = []
	for t in TYPES:
		var script = load(DIR + t[0] + ".gdns")
		if script == null:
			push_error("gdhttp plugin: cannot load %s%s.gdns" % [DIR, t[0]])
			continue
		add_custom_type(t[0], t[1], script, _icon(t[0]))
		added.append(t[0])
	print("gdhttp plugin: registered %s" % PoolStringArray(added).join(", "))
	_add_dock()

func _exit_tree():
	if dock != null:
		remove_control_from_bottom_panel(dock)
		dock.free()  # now: a queued free may never run when the editor quits
		dock = null
	for t in TYPES:
		remove_custom_type(t[0])

# The HTTP dock (dock/dock.gd) in the bottom panel. Its history lives in res://.import,
# the editor's own folder of each Godot 3 project: per project, hidden from the
# FileSystem dock, left out of version control by convention, and never exported (an
# export packs only the import artifacts its resources point to). Godot 3.2's
# get_project_settings_dir() is not per project, so it is not used.
const EDITOR_FOLDER = "res://.import"
func _add_dock():
	var script = load(DIR + "dock/dock.gd")
	if script == null:
		push_error("gdhttp plugin: cannot load the HTTP dock")
		return
	dock = script.new()
	dock.setup(EDITOR_FOLDER)
	add_control_to_bottom_panel(dock, "HTTP")
	print("gdhttp plugin: HTTP dock ready")

func _icon(name):
	var image = Image.new()
	if image.load_png_from_buffer(Marshalls.base64_to_raw(ICONS[name])) != OK:
		push_error("gdhttp plugin: cannot decode the %s icon" % name)
		return null
	var tex = ImageTexture.new()
	tex.create_from_image(image)
	return tex
