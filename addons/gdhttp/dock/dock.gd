# The HTTP dock: try a request from the editor's bottom panel with gdhttp.
#
# Built in code (no scene, no textures: Godot 3.2's editor crashes on --quit in a
# project holding an importable texture). Every request is one PyHTTPRequest child,
# stepped by the editor's own frames through its internal processing, so the editor
# never waits on the network. The body always streams to a file in the editor's
# project folder (res://.import): a 1 GiB download costs disk, not memory, and only
# a capped head of it is ever read back for display.
#
# Controls are reachable by name in `ui` (ui.url, ui.send, ui.status, ...), which is
# also how the editor test drives the dock.
tool
extends VBoxContainer

const Snippets = preload("res://addons/gdhttp/dock/snippets.gd")
const History = preload("res://addons/gdhttp/dock/history.gd")
const PY_REQUEST = "res://addons/gdhttp/PyHTTPRequest.gdns"
const BODY_FILE = "gdhttp_dock_body.bin"
# Display caps: a TextEdit with megabytes of text stalls the editor for seconds, and
# GDScript formats hex at roughly a megabyte per second.
const TEXT_CAP = 128 * 1024
const HEX_CAP = 8 * 1024
const IMAGE_CAP = 16 * 1024 * 1024
const VIEW_TEXT = 0
const VIEW_JSON = 1
const VIEW_HEX = 2
const VIEW_IMAGE = 3
const RESULTS = ["SUCCESS", "CHUNKED_BODY_SIZE_MISMATCH", "CANT_CONNECT", "CANT_RESOLVE",
		"CONNECTION_ERROR", "SSL_HANDSHAKE_ERROR", "NO_RESPONSE", "BODY_SIZE_LIMIT_EXCEEDED",
		"REQUEST_FAILED", "DOWNLOAD_FILE_CANT_OPEN", "DOWNLOAD_FILE_WRITE_ERROR",
		"REDIRECT_LIMIT_REACHED", "TIMEOUT"]
const REASONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content",
		206: "Partial Content", 301: "Moved Permanently", 302: "Found", 303: "See Other",
		304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
		400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
		405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict",
		413: "Content Too Large", 415: "Unsupported Media Type", 418: "I'm a teapot",
		429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
		503: "Service Unavailable", 504: "Gateway Timeout"}
const PHASES = [["dns_ms", "DNS"], ["connect_ms", "Connect"], ["tls_ms", "TLS handshake"],
		["ttfb_ms", "First byte"], ["total_ms", "Total"]]

var ui = {}
var history
var last_copied = ""  # what the last Copy button put on the clipboard
var last_response = {}  # result, code, headers, size, timings, tls, error of the last request
var editor_folder = "res://.import"

var _http = null
var _spec = {}
var _started_ms = 0
var _body_path = ""
var _shown = PoolByteArray()  # the head of the body that display may use
var _body_size = 0
var _content_type = ""
var _file_dialog_target = ""
var _downloaded = 0
var _total = -1
var _sent = 0
var _upload_total = 0


func _init():
	name = "GdhttpDock"
	rect_min_size = Vector2(0, 320)
	_build()


# Called by plugin.gd before the dock enters the tree.
func setup(folder):
	editor_folder = folder
	_body_path = editor_folder.plus_file(BODY_FILE)
	history = History.new(editor_folder)
	history.load_entries()
	_refresh_history()


func _exit_tree():
	cancel()
	_remove_body_file()


# ------------------------------------------------------------------ building

func _build():
	var bar = HBoxContainer.new()
	add_child(bar)
	var method = _add(bar, "method", OptionButton.new())
	for verb in Snippets.METHODS:
		method.add_item(verb)
	var url = _add(bar, "url", LineEdit.new())
	url.size_flags_horizontal = SIZE_EXPAND_FILL
	url.placeholder_text = "https://example.com/api"
	url.connect("text_entered", self, "_on_url_entered")
	_button(bar, "send", "Send", "send")
	_button(bar, "cancel", "Cancel", "cancel").disabled = true
	_button(bar, "copy_gdscript", "Copy as GDScript", "copy_gdscript")
	_button(bar, "copy_curl", "Copy as curl", "copy_curl")

	var split = _add(self, "split", HSplitContainer.new())
	split.size_flags_vertical = SIZE_EXPAND_FILL
	var request_tabs = _add(split, "request_tabs", TabContainer.new())
	request_tabs.rect_min_size = Vector2(380, 0)
	_build_headers_tab(request_tabs)
	_build_body_tab(request_tabs)
	_build_options_tab(request_tabs)
	_build_history_tab(request_tabs)

	var right = VBoxContainer.new()
	right.size_flags_horizontal = SIZE_EXPAND_FILL
	split.add_child(right)
	var status = _add(right, "status", Label.new())
	status.text = "Ready."
	status.clip_text = true
	var progress_row = HBoxContainer.new()
	right.add_child(progress_row)
	var progress = _add(progress_row, "progress", ProgressBar.new())
	progress.size_flags_horizontal = SIZE_EXPAND_FILL
	progress.rect_min_size = Vector2(120, 0)
	_add(progress_row, "progress_label", Label.new())
	# Timings stay in view beside whichever response tab is open.
	var response_split = HSplitContainer.new()
	response_split.size_flags_vertical = SIZE_EXPAND_FILL
	right.add_child(response_split)
	var response_tabs = _add(response_split, "response_tabs", TabContainer.new())
	response_tabs.size_flags_horizontal = SIZE_EXPAND_FILL
	_build_response_body_tab(response_tabs)
	_add(response_tabs, "headers_table", _table(["Header", "Value"], "Headers", [160, 200]))
	_build_tls_tab(response_tabs)
	var timings = _add(response_split, "timings_table",
			_table(["Timings", "ms", ""], "Timings", [120, 70, 90]))
	timings.rect_min_size = Vector2(290, 0)

	var dialog = _add(self, "file_dialog", EditorFileDialog.new())
	dialog.mode = EditorFileDialog.MODE_OPEN_FILE
	dialog.connect("file_selected", self, "_on_file_selected")


func _build_headers_tab(tabs):
	var box = VBoxContainer.new()
	box.name = "Headers"
	tabs.add_child(box)
	var hint = Label.new()
	hint.text = "One header per line: Name: value"
	box.add_child(hint)
	var headers = _add(box, "headers", TextEdit.new())
	headers.size_flags_vertical = SIZE_EXPAND_FILL


func _build_body_tab(tabs):
	var box = VBoxContainer.new()
	box.name = "Body"
	tabs.add_child(box)
	var row = HBoxContainer.new()
	box.add_child(row)
	var mode = _add(row, "body_mode", OptionButton.new())
	for item in ["No body", "Raw text", "File (streamed)"]:
		mode.add_item(item)
	mode.connect("item_selected", self, "_on_body_mode")
	var path = _add(row, "body_file", LineEdit.new())
	path.size_flags_horizontal = SIZE_EXPAND_FILL
	path.placeholder_text = "res://data.json or /path/on/disk"
	_button(row, "body_res", "res://…", "_browse", ["body_file", EditorFileDialog.ACCESS_RESOURCES])
	_button(row, "body_disk", "Disk…", "_browse", ["body_file", EditorFileDialog.ACCESS_FILESYSTEM])
	var text = _add(box, "body_text", TextEdit.new())
	text.size_flags_vertical = SIZE_EXPAND_FILL
	_on_body_mode(0)


func _build_options_tab(tabs):
	var grid = GridContainer.new()
	grid.name = "Options"
	grid.columns = 2
	tabs.add_child(grid)
	_label(grid, "Verify TLS")
	_add(grid, "verify", CheckBox.new()).pressed = true
	_label(grid, "CA file")
	var ca_row = HBoxContainer.new()
	ca_row.size_flags_horizontal = SIZE_EXPAND_FILL
	grid.add_child(ca_row)
	var ca = _add(ca_row, "ca_file", LineEdit.new())
	ca.size_flags_horizontal = SIZE_EXPAND_FILL
	ca.placeholder_text = "system store"
	_button(ca_row, "ca_res", "res://…", "_browse", ["ca_file", EditorFileDialog.ACCESS_RESOURCES])
	_button(ca_row, "ca_disk", "Disk…", "_browse", ["ca_file", EditorFileDialog.ACCESS_FILESYSTEM])
	_label(grid, "Pins")
	var pins = _add(grid, "pins", LineEdit.new())
	pins.placeholder_text = "sha256/… (comma separated)"
	_label(grid, "Proxy")
	var proxy = _add(grid, "proxy", LineEdit.new())
	proxy.placeholder_text = "[user:password@]host:port"
	_label(grid, "Timeout (s)")
	var timeout = _add(grid, "timeout", SpinBox.new())
	timeout.max_value = 3600
	timeout.step = 0.5
	timeout.allow_greater = true
	_label(grid, "Follow redirects")
	_add(grid, "follow_redirects", CheckBox.new()).pressed = true
	_label(grid, "Accept gzip")
	_add(grid, "accept_gzip", CheckBox.new()).pressed = true


func _build_history_tab(tabs):
	var box = VBoxContainer.new()
	box.name = "History"
	tabs.add_child(box)
	var list = _add(box, "history_list", ItemList.new())
	list.size_flags_vertical = SIZE_EXPAND_FILL
	list.connect("item_activated", self, "_on_history_activated")
	var row = HBoxContainer.new()
	box.add_child(row)
	_button(row, "history_load", "Load", "load_history_entry", [-1])
	_button(row, "history_resend", "Re-send", "resend_history_entry", [-1])
	_button(row, "history_delete", "Delete", "delete_history_entry", [-1])
	_button(row, "history_clear", "Clear", "_clear_history")
	var keep = _add(row, "keep_secrets", CheckBox.new())
	keep.text = "Keep secrets"
	keep.hint_tooltip = "Store Authorization, Cookie and proxy passwords in the history " \
			+ "file as typed (masked otherwise)."


func _build_response_body_tab(tabs):
	var box = VBoxContainer.new()
	box.name = "Body"
	tabs.add_child(box)
	var row = HBoxContainer.new()
	box.add_child(row)
	var view = _add(row, "body_view", OptionButton.new())
	for item in ["Text", "Pretty JSON", "Hex", "Image"]:
		view.add_item(item)
	view.connect("item_selected", self, "_on_view_selected")
	var info = _add(row, "body_info", Label.new())
	info.size_flags_horizontal = SIZE_EXPAND_FILL
	info.clip_text = true
	var out = _add(box, "body_out", TextEdit.new())
	out.readonly = true
	out.size_flags_vertical = SIZE_EXPAND_FILL
	var image = _add(box, "image", TextureRect.new())
	image.size_flags_vertical = SIZE_EXPAND_FILL
	image.expand = true
	image.stretch_mode = TextureRect.STRETCH_KEEP_ASPECT_CENTERED
	image.visible = false


func _build_tls_tab(tabs):
	var box = VBoxContainer.new()
	box.name = "TLS"
	tabs.add_child(box)
	var table = _add(box, "tls_table", _table(["Field", "Value"], "Certificate", [110, 300]))
	table.size_flags_vertical = SIZE_EXPAND_FILL
	_button(box, "pin_key", "Pin this key (copy)", "copy_pin").disabled = true


func _add(parent, key, control):
	ui[key] = control
	if control is TabContainer:
		control.tab_align = TabContainer.ALIGN_LEFT
	parent.add_child(control)
	return control


func _button(parent, key, text, method, binds = []):
	var button = _add(parent, key, Button.new())
	button.text = text
	button.connect("pressed", self, method, binds)
	return button


func _label(parent, text):
	var label = Label.new()
	label.text = text
	parent.add_child(label)


# A read-only table; the last column takes the spare width.
func _table(titles, title, widths):
	var tree = Tree.new()
	tree.name = title
	tree.columns = titles.size()
	tree.hide_root = true
	tree.set_column_titles_visible(true)
	for i in titles.size():
		tree.set_column_title(i, titles[i])
		tree.set_column_expand(i, i == titles.size() - 1)
		tree.set_column_min_width(i, widths[i])
	tree.create_item()
	return tree


func _table_rows(tree, rows):
	tree.clear()
	var root = tree.create_item()
	for row in rows:
		var item = tree.create_item(root)
		for i in row.size():
			item.set_text(i, str(row[i]))


# ------------------------------------------------------------------ the request

# The request as the fields describe it (see snippets.gd for its shape).
func current_spec():
	var headers = []
	for line in ui.headers.text.split("\n"):
		if line.strip_edges() != "":
			headers.append(line.strip_edges())
	var pins = []
	for pin in ui.pins.text.split(","):
		if pin.strip_edges() != "":
			pins.append(pin.strip_edges())
	return {
		"method": Snippets.METHODS[ui.method.selected],
		"url": ui.url.text.strip_edges(),
		"headers": headers,
		"body_mode": ["none", "text", "file"][ui.body_mode.selected],
		"body_text": ui.body_text.text,
		"body_file": ui.body_file.text.strip_edges(),
		"verify": ui.verify.pressed,
		"ca_file": ui.ca_file.text.strip_edges(),
		"pins": pins,
		"proxy": ui.proxy.text.strip_edges(),
		"timeout": ui.timeout.value,
		"follow_redirects": ui.follow_redirects.pressed,
		"accept_gzip": ui.accept_gzip.pressed,
	}


func apply_spec(spec):
	ui.method.select(max(0, Snippets.METHODS.find(spec.get("method", "GET"))))
	ui.url.text = spec.get("url", "")
	ui.headers.text = PoolStringArray(spec.get("headers", [])).join("\n")
	var mode = ["none", "text", "file"].find(spec.get("body_mode", "none"))
	ui.body_mode.select(max(0, mode))
	_on_body_mode(max(0, mode))
	ui.body_text.text = spec.get("body_text", "")
	ui.body_file.text = spec.get("body_file", "")
	ui.verify.pressed = spec.get("verify", true)
	ui.ca_file.text = spec.get("ca_file", "")
	ui.pins.text = PoolStringArray(spec.get("pins", [])).join(", ")
	ui.proxy.text = spec.get("proxy", "")
	ui.timeout.value = spec.get("timeout", 0.0)
	ui.follow_redirects.pressed = spec.get("follow_redirects", true)
	ui.accept_gzip.pressed = spec.get("accept_gzip", true)


func is_busy():
	return _http != null


func send():
	cancel()
	_spec = current_spec()
	_clear_response()
	if _spec.url == "":
		_set_status("Enter a URL first.")
		return ERR_INVALID_PARAMETER
	var script = load(PY_REQUEST)
	if script == null:
		_set_status("gdhttp is not built: %s does not load." % PY_REQUEST)
		return ERR_UNCONFIGURED
	_remove_body_file()
	var http = script.new()
	if http == null:
		_set_status("gdhttp's library did not load: run make build (see the Output panel).")
		return ERR_UNCONFIGURED
	http.name = "Request"
	add_child(http)
	_http = http
	var err = _configure(http, _spec)
	if err == OK:
		if _spec.body_mode == "file":
			err = http.request_file(_spec.url, _spec.body_file, PoolStringArray(_spec.headers),
					_spec.verify, Snippets.METHODS.find(_spec.method))
		else:
			var body = _spec.body_text if _spec.body_mode == "text" else ""
			err = http.request(_spec.url, PoolStringArray(_spec.headers), _spec.verify,
					Snippets.METHODS.find(_spec.method), body)
	if err != OK:
		var why = http.get_error_message()
		_drop_request()
		_set_status("Not sent (error %d): %s" % [err, why])
		_remember({"code": 0, "result": -1})
		return err
	_started_ms = OS.get_ticks_msec()
	_downloaded = 0
	_total = -1
	_sent = 0
	_upload_total = 0
	http.connect("request_completed", self, "_on_completed")
	http.connect("download_progress", self, "_on_download_progress")
	http.connect("upload_progress", self, "_on_upload_progress")
	ui.send.disabled = true
	ui.cancel.disabled = false
	_set_status("%s %s …" % [_spec.method, _spec.url])
	return OK


# Everything but the request itself; the first refusal wins.
func _configure(http, spec):
	http.set_session(null)  # a fresh connection per Send: timings show every phase
	# The network work in gdhttp's worker thread: a download is not paced by the
	# editor's frame rate, and a frame only picks up its progress and completion.
	http.use_threads = true
	http.download_file = ProjectSettings.globalize_path(_body_path)
	if not spec.accept_gzip:
		http.accept_gzip = false
	http.max_redirects = Snippets.FOLLOWED_REDIRECTS if spec.follow_redirects else 0
	if spec.timeout > 0:
		http.timeout = spec.timeout
	if spec.ca_file != "":
		var err = http.set_trusted_certificates(spec.ca_file)
		if err != OK:
			return err
	if not spec.pins.empty():
		var err = http.set_pinned_public_keys(PoolStringArray(spec.pins))
		if err != OK:
			return err
	var proxy = Snippets.split_proxy(spec.proxy)
	if spec.proxy != "" and proxy.empty():
		_set_status("Proxy must be [user:password@]host:port.")
		return ERR_INVALID_PARAMETER
	if not proxy.empty():
		http.set_http_proxy(proxy[0], proxy[1])
		http.set_https_proxy(proxy[0], proxy[1])
	return OK


func cancel():
	if _http == null:
		return
	_http.cancel_request()
	_read_report(_http)
	_drop_request()
	_set_status("Cancelled after %s and %s ms." % [_size_text(last_response.downloaded),
			_ms(last_response.timings.get("total_ms", 0))])
	_show_timings(last_response.timings)
	_remember({"code": 0, "result": -1, "cancelled": true})


func _drop_request():
	if _http != null:
		remove_child(_http)
		_http.queue_free()
		_http = null
	ui.send.disabled = false
	ui.cancel.disabled = true


# Progress comes from the request's signals: no call into Python here, since each one
# waits for the interpreter lock the download's worker thread holds most of the time.
func _process(_delta):
	if _http == null:
		return
	var shown = "%s%s" % [_size_text(_downloaded), (" / " + _size_text(_total)) if _total >= 0 else ""]
	if _upload_total != 0:
		shown = "↑ %s / %s  %s" % [_size_text(_sent), _size_text(_upload_total), shown]
	ui.progress_label.text = "%s · %d ms" % [shown, OS.get_ticks_msec() - _started_ms]


func _on_download_progress(downloaded, total):
	_downloaded = downloaded
	_total = total
	ui.progress.max_value = max(total, 1) if total >= 0 else max(downloaded, 1)
	ui.progress.value = downloaded


func _on_upload_progress(sent, total):
	_sent = sent
	_upload_total = total
	ui.progress.max_value = max(total, 1)
	ui.progress.value = sent


func _on_completed(result, code, _headers, _body):
	var http = _http
	if http == null:
		return
	_read_report(http)
	last_response["result"] = result
	last_response["code"] = code
	last_response["error"] = http.get_error_message() if result != HTTPRequest.RESULT_SUCCESS else ""
	last_response["sent"] = _sent
	last_response["upload_total"] = _upload_total
	_drop_request()
	var start = OS.get_ticks_usec()
	_show_response()
	last_response["render_ms"] = (OS.get_ticks_usec() - start) / 1000.0
	_remember({"code": code, "result": result})


func _read_report(http):
	last_response = {
		"headers": http.get_response_headers_as_dictionary(),
		"timings": http.get_timings(),
		"tls": http.get_tls_info(),
		"downloaded": http.get_downloaded_bytes(),
	}


# ------------------------------------------------------------------ the response

func _clear_response():
	last_response = {}
	_shown = PoolByteArray()
	_body_size = 0
	_content_type = ""
	ui.progress.value = 0
	ui.progress_label.text = ""
	ui.body_out.text = ""
	ui.body_info.text = ""
	ui.image.texture = null
	_table_rows(ui.headers_table, [])
	_table_rows(ui.timings_table, [])
	_table_rows(ui.tls_table, [])
	ui.pin_key.disabled = true


func _show_response():
	var result = last_response.result
	var code = last_response.code
	var line = "HTTP %d %s" % [code, REASONS.get(code, "")] if code > 0 else "No response"
	line += "  ·  RESULT_%s" % (RESULTS[result] if result < RESULTS.size() else str(result))
	var rows = []
	var headers = last_response.headers
	for key in headers:
		rows.append([key, headers[key]])
		if key.to_lower() == "content-type":
			_content_type = headers[key].to_lower()
	_table_rows(ui.headers_table, rows)
	# Only the head of the body is ever read back: an image needs all of it, text a bit.
	var file = File.new()
	_body_size = 0
	if file.open(_body_path, File.READ) == OK:
		_body_size = file.get_len()
		var cap = IMAGE_CAP if _content_type.begins_with("image/") else TEXT_CAP + 4
		_shown = file.get_buffer(min(_body_size, cap))
		file.close()
	line += "  ·  %s  ·  %s ms" % [_size_text(_body_size),
			_ms(last_response.timings.get("total_ms", 0))]
	if last_response.error != "":
		line += "  ·  " + last_response.error
	_set_status(line)
	_show_timings(last_response.timings)
	_show_tls(last_response.tls)
	var view = VIEW_HEX
	if _content_type.begins_with("image/"):
		view = VIEW_IMAGE
	elif _content_type.find("json") >= 0:
		view = VIEW_JSON
	elif _content_type.begins_with("text/") or _content_type.find("xml") >= 0 \
			or _content_type.find("javascript") >= 0 or _content_type.find("form") >= 0 \
			or _body_size == 0:
		view = VIEW_TEXT
	ui.body_view.select(view)
	_render_body(view)


func _show_timings(timings):
	var total = max(float(timings.get("total_ms", 0)), 0.001)
	var rows = []
	for phase in PHASES:
		var ms = float(timings.get(phase[0], 0))
		var bar = ""
		for _i in int(round(14 * min(ms / total, 1.0))):
			bar += "█"
		rows.append([phase[1], _ms(ms), bar])
	if timings.get("reused", false):
		rows.append(["Connection", "reused", "setup phases skipped"])
	_table_rows(ui.timings_table, rows)


func _show_tls(tls):
	if tls.empty():
		_table_rows(ui.tls_table, [["TLS", "not used"]])
		ui.pin_key.disabled = true
		return
	_table_rows(ui.tls_table, [
		["Version", tls.get("version", "")],
		["Cipher", tls.get("cipher", "")],
		["Verified", "yes" if tls.get("verified", false) else "no (verification off)"],
		["Subject", tls.get("subject", "")],
		["Issuer", tls.get("issuer", "")],
		["Valid from", tls.get("not_before", "")],
		["Valid until", tls.get("not_after", "")],
		["SPKI pin", tls.get("pin", "")],
	])
	ui.pin_key.disabled = tls.get("pin", "") == ""


func _on_view_selected(index):
	_render_body(index)


func _render_body(view):
	ui.image.visible = view == VIEW_IMAGE
	ui.body_out.visible = view != VIEW_IMAGE
	var note = "%s" % _size_text(_body_size)
	if _content_type != "":
		note += "  ·  " + _content_type
	match view:
		VIEW_IMAGE:
			note += _render_image()
		VIEW_HEX:
			ui.body_out.text = _hex(_shown, HEX_CAP)
			if _body_size > HEX_CAP:
				note += "  ·  first %s shown" % _size_text(HEX_CAP)
		VIEW_JSON:
			var parsed = JSON.parse(_utf8_head(_shown, TEXT_CAP)) if _body_size <= TEXT_CAP else null
			if parsed != null and parsed.error == OK:
				ui.body_out.text = JSON.print(parsed.result, "  ")
			else:
				ui.body_out.text = _utf8_head(_shown, TEXT_CAP)
				note += "  ·  not shown as JSON (%s)" % ("too large" if parsed == null else "invalid")
		_:
			ui.body_out.text = _utf8_head(_shown, TEXT_CAP)
			if _body_size > TEXT_CAP:
				note += "  ·  first %s shown (whole body: %s)" % [_size_text(TEXT_CAP),
						ProjectSettings.globalize_path(_body_path)]
	ui.body_info.text = note


func _render_image():
	if _body_size > IMAGE_CAP:
		return "  ·  too large to preview"
	var image = Image.new()
	var err = ERR_FILE_UNRECOGNIZED
	if _content_type.find("png") >= 0:
		err = image.load_png_from_buffer(_shown)
	elif _content_type.find("jpeg") >= 0 or _content_type.find("jpg") >= 0:
		err = image.load_jpg_from_buffer(_shown)
	elif _content_type.find("webp") >= 0:
		err = image.load_webp_from_buffer(_shown)
	if err != OK:
		ui.image.texture = null
		return "  ·  cannot preview this image type"
	var texture = ImageTexture.new()
	texture.create_from_image(image)
	ui.image.texture = texture
	return "  ·  %dx%d" % [image.get_width(), image.get_height()]


# At most `cap` bytes as text, cut before a split UTF-8 sequence.
static func _utf8_head(bytes, cap):
	if bytes.size() <= cap:
		return bytes.get_string_from_utf8()
	var end = cap
	while end > cap - 4 and end > 0 and (bytes[end] & 0xC0) == 0x80:
		end -= 1
	return bytes.subarray(0, end - 1).get_string_from_utf8()


static func _hex(bytes, cap):
	var lines = PoolStringArray()
	var count = min(bytes.size(), cap)
	for offset in range(0, count, 16):
		var hex = ""
		var text = ""
		for i in range(offset, min(offset + 16, count)):
			var b = bytes[i]
			hex += "%02x " % b
			text += char(b) if b >= 32 and b < 127 else "."
		lines.append("%08x  %-48s %s" % [offset, hex, text])
	return lines.join("\n")


static func _size_text(n):
	if n < 1024:
		return "%d B" % n
	if n < 1024 * 1024:
		return "%.1f KiB" % (n / 1024.0)
	if n < 1024 * 1024 * 1024:
		return "%.1f MiB" % (n / 1048576.0)
	return "%.2f GiB" % (n / 1073741824.0)


static func _ms(value):
	return "%.1f" % float(value)


func _set_status(text):
	ui.status.text = text
	ui.status.hint_tooltip = text


func _remove_body_file():
	if _body_path != "":
		var dir = Directory.new()
		if dir.file_exists(_body_path):
			dir.remove(_body_path)


# ------------------------------------------------------------------ copy actions

func copy_gdscript():
	return _copy(Snippets.to_gdscript(current_spec()), "GDScript")


func copy_curl():
	return _copy(Snippets.to_curl(current_spec()), "curl command")


func copy_pin():
	var pin = last_response.get("tls", {}).get("pin", "")
	if pin != "":
		_copy(pin, "pin (paste it into Pins or set_pinned_public_keys)")
	return pin


func _copy(text, what):
	last_copied = text
	OS.clipboard = text
	_set_status("Copied the %s to the clipboard." % what)
	return text


# ------------------------------------------------------------------ history

func _remember(outcome):
	if history == null:
		return
	var entry = Snippets.for_history(_spec, ui.keep_secrets.pressed)
	var now = OS.get_datetime()
	entry["when"] = "%04d-%02d-%02d %02d:%02d" % [now.year, now.month, now.day, now.hour, now.minute]
	for key in outcome:
		entry[key] = outcome[key]
	history.add(entry)
	_refresh_history()


func _refresh_history():
	ui.history_list.clear()
	if history == null:
		return
	for entry in history.entries:
		ui.history_list.add_item(History.label(entry))


func _selected_history(index):
	if index < 0:
		var selected = ui.history_list.get_selected_items()
		index = selected[0] if selected.size() > 0 else -1
	return index


func load_history_entry(index = -1):
	index = _selected_history(index)
	if history == null or index < 0 or index >= history.entries.size():
		return false
	var entry = history.entries[index]
	apply_spec(entry)
	if entry.get("masked", false):
		_set_status("Loaded; its secrets were masked in history: fill them in before sending.")
	else:
		_set_status("Loaded from history.")
	return true


func resend_history_entry(index = -1):
	if not load_history_entry(index):
		return ERR_DOES_NOT_EXIST
	if history.entries[_selected_history(index)].get("masked", false):
		return ERR_UNAUTHORIZED  # masked secrets would be sent as "<masked>"
	return send()


func delete_history_entry(index = -1):
	index = _selected_history(index)
	if history == null or index < 0:
		return
	history.remove(index)
	_refresh_history()


func _clear_history():
	if history != null:
		history.clear()
		_refresh_history()


func _on_history_activated(index):
	load_history_entry(index)


# ------------------------------------------------------------------ small handlers

func _on_url_entered(_text):
	send()


func _on_body_mode(index):
	ui.body_text.visible = index == 1
	ui.body_file.editable = index == 2
	ui.body_res.disabled = index != 2
	ui.body_disk.disabled = index != 2


func _browse(target, access):
	_file_dialog_target = target
	ui.file_dialog.access = access
	ui.file_dialog.popup_centered_ratio(0.6)


func _on_file_selected(path):
	if _file_dialog_target != "":
		ui[_file_dialog_target].text = path
