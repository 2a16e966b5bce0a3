# Test-only editor plugin: drives gdhttp's HTTP dock through its nodes, as a user would,
# against the servers named in the JSON file $GDHTTP_DOCK_TEST, writes what the dock
# showed to config.results, and quits the editor. Every wait is bounded by frames' time.
tool
extends EditorPlugin

var config = {}
var results = {"cases": {}, "errors": []}
var dock = null
var _stamps = null  # while recording: [frame start usec, script step ms] per frame
var _idle_at = 0
var _started = 0


func _enter_tree():
	var path = OS.get_environment("GDHTTP_DOCK_TEST")
	if path == "":
		return
	var file = File.new()
	if file.open(path, File.READ) != OK:
		push_error("dock driver: cannot read %s" % path)
		return
	config = JSON.parse(file.get_as_text()).result
	file.close()
	_started = OS.get_ticks_msec()
	get_tree().connect("idle_frame", self, "_on_idle_frame")
	# Frames back to back: the editor's low-processor sleep would hide what a frame costs.
	OS.low_processor_usage_mode = false
	call_deferred("_run")


func _process(_delta):
	if _stamps != null:
		# The script step: from the tree's idle_frame signal to here, every node's internal
		# process (PyHTTPRequest's step) and the _process calls before ours; no rendering.
		var now = OS.get_ticks_usec()
		_stamps.append([now, (now - _idle_at) / 1000.0])
	if not config.empty() and OS.get_ticks_msec() - _started > config.limit_s * 1000:
		results.errors.append("driver: overall limit reached")
		_finish()


func _on_idle_frame():
	_idle_at = OS.get_ticks_usec()


func _run():
	yield(_frames(3), "completed")
	var base = get_editor_interface().get_base_control()
	dock = base.find_node("GdhttpDock", true, false)
	if dock == null:
		results.errors.append("dock not found")
		_finish()
		return
	make_bottom_panel_item_visible(dock)
	results["history_path"] = dock.history.path
	dock.ui.history_list.clear()
	dock.history.clear()
	for case in config.cases:
		yield(call(case), "completed")
	_finish()


func _finish():
	if config.empty():
		return
	var file = File.new()
	if file.open(config.results, File.WRITE) == OK:
		file.store_string(JSON.print(results, "  "))
		file.close()
	config = {}
	get_tree().quit()


# ------------------------------------------------------------------ helpers

func _frames(n):
	for _i in n:
		yield(get_tree(), "idle_frame")


func _wait_done(limit_s):
	var start = OS.get_ticks_msec()
	yield(get_tree(), "idle_frame")
	while dock.is_busy() and OS.get_ticks_msec() - start < limit_s * 1000:
		yield(get_tree(), "idle_frame")
	yield(get_tree(), "idle_frame")


func _fill(method, url, headers = "", body_mode = 0, body = ""):
	dock.ui.method.select(dock.Snippets.METHODS.find(method))
	dock.ui.url.text = url
	dock.ui.headers.text = headers
	dock.ui.body_mode.select(body_mode)
	dock.ui.body_mode.emit_signal("item_selected", body_mode)
	if body_mode == 1:
		dock.ui.body_text.text = body
	elif body_mode == 2:
		dock.ui.body_file.text = body


func _press(button):
	dock.ui[button].emit_signal("pressed")


func _rows(tree):
	var rows = []
	var root = tree.get_root()
	var item = root.get_children() if root != null else null
	while item != null:
		var row = []
		for i in tree.columns:
			row.append(item.get_text(i))
		rows.append(row)
		item = item.get_next()
	return rows


func _shown():
	var shown = {
		"status": dock.ui.status.text,
		"headers": _rows(dock.ui.headers_table),
		"timings": _rows(dock.ui.timings_table),
		"tls": _rows(dock.ui.tls_table),
		"body": dock.ui.body_out.text,
		"body_info": dock.ui.body_info.text,
		"view": dock.ui.body_view.selected,
		"busy": dock.is_busy(),
		"last": dock.last_response,
	}
	if dock.ui.image.texture != null:
		shown["image"] = [dock.ui.image.texture.get_width(), dock.ui.image.texture.get_height()]
	return shown


func _send_and_wait(name, limit_s = 20):
	var t0 = OS.get_ticks_msec()
	_press("send")
	yield(_wait_done(limit_s), "completed")
	var shown = _shown()
	shown["elapsed_ms"] = OS.get_ticks_msec() - t0
	results.cases[name] = shown


# Frame intervals (what a user sees) and script steps (what the editor's scripts cost).
func _frame_stats(stamps):
	var gaps = []
	var steps = []
	for i in range(1, stamps.size()):
		gaps.append((stamps[i][0] - stamps[i - 1][0]) / 1000.0)
		steps.append(stamps[i][1])
	if gaps.empty():
		return {"frames": 0}
	gaps.sort()
	steps.sort()
	return {
		"frames": gaps.size(),
		"median_ms": gaps[gaps.size() / 2],
		"p95_ms": gaps[int(gaps.size() * 0.95)],
		"max_ms": gaps[gaps.size() - 1],
		"step_median_ms": steps[steps.size() / 2],
		"step_p95_ms": steps[int(steps.size() * 0.95)],
		"step_max_ms": steps[steps.size() - 1],
	}


# ------------------------------------------------------------------ cases

func case_idle_frames():
	_stamps = []
	yield(_frames(90), "completed")
	results.cases["idle"] = {"frames": _frame_stats(_stamps)}
	_stamps = null


func case_file_dialog():
	dock.ui.ca_disk.emit_signal("pressed")
	yield(_frames(2), "completed")
	var shown = {"visible": dock.ui.file_dialog.visible, "access": dock.ui.file_dialog.access}
	dock.ui.file_dialog.emit_signal("file_selected", "/tmp/picked-ca.pem")
	dock.ui.file_dialog.hide()
	shown["ca_file"] = dock.ui.ca_file.text
	dock.ui.ca_file.text = ""
	results.cases["file_dialog"] = shown


func case_json():
	_fill("GET", config.http + "/json", "X-Test: dock\nAuthorization: Bearer dock-secret-1")
	yield(_send_and_wait("json"), "completed")
	results["gdscript"] = dock.copy_gdscript()
	results["curl"] = dock.copy_curl()


func case_post_text():
	_fill("POST", config.http + "/echo", "Content-Type: text/plain", 1, "héllo from the dock\nline 2")
	yield(_send_and_wait("post_text"), "completed")
	results["gdscript_post"] = dock.copy_gdscript()


func case_put_file():
	var file = File.new()
	file.open("res://upload_me.txt", File.WRITE)
	file.store_string("streamed from res:// by request_file\n")
	file.close()
	_fill("PUT", config.http + "/echo", "", 2, "res://upload_me.txt")
	yield(_send_and_wait("put_file"), "completed")


func case_image():
	_fill("GET", config.http + "/image.png")
	yield(_send_and_wait("image"), "completed")


func case_image_again():
	_fill("GET", config.http + "/image.png")
	yield(_send_and_wait("image_again"), "completed")


func case_redirect_not_followed():
	_fill("GET", config.http + "/redirect")
	dock.ui.follow_redirects.pressed = false
	yield(_send_and_wait("redirect"), "completed")
	dock.ui.follow_redirects.pressed = true


func case_https():
	_fill("GET", config.https + "/json")
	dock.ui.ca_file.text = config.ca_file
	yield(_send_and_wait("https"), "completed")
	results["pin_copied"] = dock.copy_pin()
	results["gdscript_https"] = dock.copy_gdscript()
	# The copied pin pins the server: the same request succeeds with it set.
	dock.ui.pins.text = results.pin_copied
	yield(_send_and_wait("https_pinned"), "completed")
	dock.ui.pins.text = "sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	yield(_send_and_wait("https_wrong_pin"), "completed")
	dock.ui.pins.text = ""
	dock.ui.ca_file.text = ""


func case_proxy():
	_fill("GET", config.http + "/json", "X-Test: via proxy")
	dock.ui.proxy.text = config.proxy
	yield(_send_and_wait("proxy"), "completed")
	results["curl_proxy"] = dock.copy_curl()
	dock.ui.proxy.text = ""


func case_upload_disk():
	_fill("PUT", config.http + "/upload", "Content-Type: application/octet-stream", 2,
			config.upload_file)
	yield(_send_and_wait("upload"), "completed")


func case_cancel_slow():
	_fill("GET", config.http + "/slow")
	_stamps = []
	_press("send")
	var start = OS.get_ticks_msec()
	while OS.get_ticks_msec() - start < 1500:
		yield(get_tree(), "idle_frame")
	var during = _shown()
	during["progress_label"] = dock.ui.progress_label.text
	_press("cancel")
	yield(_frames(2), "completed")
	var shown = _shown()
	shown["during"] = during
	shown["frames"] = _frame_stats(_stamps)
	_stamps = null
	results.cases["cancel_slow"] = shown


func case_never_answers():
	_fill("GET", config.http + "/hang")
	dock.ui.timeout.value = 1.5
	_stamps = []
	yield(_send_and_wait("hang", 10), "completed")
	results.cases.hang["frames"] = _frame_stats(_stamps)
	_stamps = null
	dock.ui.timeout.value = 0


func case_big_download():
	_fill("GET", config.http + "/big")
	_stamps = []
	yield(_send_and_wait("big", config.big_limit_s), "completed")
	results.cases.big["frames"] = _frame_stats(_stamps)
	_stamps = null
	results.cases.big["memory_peak"] = OS.get_static_memory_peak_usage()


func case_history():
	var entries = dock.history.entries
	var summary = {"count": entries.size(), "labels": []}
	for entry in entries:
		summary.labels.append(dock.History.label(entry))
	var file = File.new()
	summary["file_exists"] = file.file_exists(dock.history.path)
	if summary.file_exists:
		file.open(dock.history.path, File.READ)
		summary["file"] = file.get_as_text()
		file.close()
	# The JSON request is the oldest but one...; find it and re-send it (masked: refused).
	var json_index = -1
	for i in entries.size():
		if entries[i].url.ends_with("/json") and entries[i].url.begins_with("http:"):
			json_index = i
	summary["resend_masked"] = dock.resend_history_entry(json_index)
	yield(_frames(1), "completed")
	summary["loaded_headers"] = dock.ui.headers.text
	# The opt-in keeps the secret; re-sending such an entry sends it.
	dock.ui.keep_secrets.pressed = true
	_fill("GET", config.http + "/json", "Authorization: Bearer kept-secret-2")
	yield(_send_and_wait("kept_secret"), "completed")
	dock.ui.keep_secrets.pressed = false
	summary["kept_entry"] = dock.history.entries[0]
	var before = dock.history.entries.size()
	summary["resend_kept"] = dock.resend_history_entry(0)
	yield(_wait_done(10), "completed")
	results.cases["resent"] = _shown()
	summary["after_resend"] = dock.history.entries.size() - before
	dock.delete_history_entry(0)
	summary["after_delete"] = dock.history.entries.size() - before
	summary["list_items"] = dock.ui.history_list.get_item_count()
	results["history"] = summary


func case_screenshot():
	yield(_frames(5), "completed")
	_fill("GET", config.https + "/player", "Accept: application/json\nX-Game-Version: 1.4.2")
	dock.ui.ca_file.text = config.ca_file
	yield(_send_and_wait("screenshot"), "completed")
	dock.ui.response_tabs.current_tab = config.get("response_tab", 0)
	dock.ui.request_tabs.current_tab = config.get("request_tab", 0)
	yield(_frames(10), "completed")
	var image = get_editor_interface().get_base_control().get_viewport().get_texture().get_data()
	image.flip_y()
	var rect = dock.get_global_rect().grow(6).clip(Rect2(Vector2(), image.get_size()))
	image = image.get_rect(rect)
	results["screenshot"] = image.save_png(config.screenshot)
	results["screenshot_size"] = [image.get_width(), image.get_height()]
