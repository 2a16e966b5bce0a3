# The HTTP dock's history: the newest requests of this project, as JSON in a file the
# editor owns (plugin.gd passes res://.import and says why). Entries are specs as
# snippets.for_history() made them: secrets masked unless the user opted in.
tool
extends Reference

const FILE_NAME = "gdhttp_dock_history.json"
# Entries kept: enough to find yesterday's requests, small enough to load in a frame.
const MAX_ENTRIES = 100

var path = ""
var entries = []  # newest first; each a spec plus "time", "code", "result"


func _init(folder):
	path = folder.plus_file(FILE_NAME)


func load_entries():
	entries = []
	var file = File.new()
	if not file.file_exists(path) or file.open(path, File.READ) != OK:
		return
	var parsed = JSON.parse(file.get_as_text())
	file.close()
	if parsed.error == OK and typeof(parsed.result) == TYPE_ARRAY:
		for entry in parsed.result:
			if typeof(entry) == TYPE_DICTIONARY and entry.has("url") and entry.has("method"):
				entries.append(entry)


func save():
	var dir = Directory.new()
	if not dir.dir_exists(path.get_base_dir()):
		dir.make_dir_recursive(path.get_base_dir())
	var file = File.new()
	if file.open(path, File.WRITE) != OK:
		push_warning("gdhttp dock: cannot write the history to %s" % path)
		return
	file.store_string(JSON.print(entries, "  "))
	file.close()


func add(entry):
	entries.push_front(entry)
	while entries.size() > MAX_ENTRIES:
		entries.pop_back()
	save()


func remove(index):
	if index >= 0 and index < entries.size():
		entries.remove(index)
		save()


func clear():
	entries = []
	save()


static func label(entry):
	var outcome = "…"
	if entry.get("cancelled", false):
		outcome = "cancelled"
	elif entry.has("code") and int(entry.code) > 0:
		outcome = str(int(entry.code))
	elif entry.has("result"):
		outcome = "not sent" if int(entry.result) < 0 else "result %d" % int(entry.result)
	return "%s  %s %s  → %s" % [entry.get("when", ""), entry.method, entry.url, outcome]
