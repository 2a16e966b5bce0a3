# The exported game: HTTPS download with a CA read from res://, a file upload
# from res://, a call into the game's Python module; every sha256 checked.
# GAME_HTTPS_URL / GAME_UPLOAD_URL / GAME_EXPECT_SHA come from the test.
extends Node

var failures = 0

func check(ok, what):
	print(("CHECK ok " if ok else "CHECK FAIL ") + what)
	if not ok:
		failures += 1

func sha256(data):
	var ctx = HashingContext.new()
	ctx.start(HashingContext.HASH_SHA256)
	ctx.update(data)
	return ctx.finish().hex_encode()

func _ready():
	var watchdog = get_tree().create_timer(60)
	watchdog.connect("timeout", self, "_on_watchdog")
	call_deferred("run")

func _on_watchdog():
	print("GAME FAILED: watchdog")
	get_tree().quit(3)

func run():
	var logic = load("res://GameLogic.gdns").new()
	print("RUNTIME " + logic.runtime())

	var req = PyHTTPRequest.new()
	add_child(req)
	check(req.set_trusted_certificates("res://certs/ca.pem") == OK, "CA from res://")
	check(req.request(OS.get_environment("GAME_HTTPS_URL")) == OK, "download started")
	var got = yield(req, "request_completed")
	check(got[0] == HTTPRequest.RESULT_SUCCESS and got[1] == 200, "download result %s %s" % [got[0], got[1]])
	var body = got[3]
	var digest = sha256(body)
	check(digest == OS.get_environment("GAME_EXPECT_SHA"), "download sha256 %s" % digest)
	check(logic.digest(body) == digest, "python module sha256 matches")

	var payload = File.new()
	check(payload.open("res://payload.bin", File.READ) == OK, "payload in the pck")
	var payload_sha = sha256(payload.get_buffer(payload.get_len()))
	payload.close()
	check(req.request_file(OS.get_environment("GAME_UPLOAD_URL"), "res://payload.bin") == OK, "upload started")
	got = yield(req, "request_completed")
	check(got[0] == HTTPRequest.RESULT_SUCCESS and got[1] in [200, 201, 204], "upload result %s %s" % [got[0], got[1]])
	print("UPLOADED " + payload_sha)

	req.queue_free()
	print("GAME PASSED" if failures == 0 else "GAME FAILED: %d" % failures)
	get_tree().quit(0 if failures == 0 else 1)
