# gdhttp's editor plugin: PyHTTPRequest (a Node, in the Create Node dialog) and
# PyHTTPClient (a Reference) as custom types with their own icons.
tool
extends EditorPlugin

const DIR = "res://addons/gdhttp/"
const TYPES = [["PyHTTPRequest", "Node"], ["PyHTTPClient", "Reference"]]

func _enter_tree():
	var added = []
	for t in TYPES:
		var script = load(DIR + t[0] + ".gdns")
		if script == null:
			push_error("gdhttp plugin: cannot load %s%s.gdns" % [DIR, t[0]])
			continue
		add_custom_type(t[0], t[1], script, _icon(DIR + "icons/" + t[0] + ".png"))
		added.append(t[0])
	print("gdhttp plugin: registered %s" % PoolStringArray(added).join(", "))

func _exit_tree():
	for t in TYPES:
		remove_custom_type(t[0])

# Read from the PNG itself: no dependency on the editor's import having run yet
# (plugins start before the first import of a fresh checkout finishes).
func _icon(path):
	var image = Image.new()
	if image.load(ProjectSettings.globalize_path(path)) != OK:
		push_error("gdhttp plugin: cannot read icon %s" % path)
		return null
	var tex = ImageTexture.new()
	tex.create_from_image(image)
	return tex
