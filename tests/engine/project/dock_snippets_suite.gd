# The HTTP dock's snippets (addons/gdhttp/dock/snippets.gd) in the real engine: history
# masking, proxy parsing, and "Copy as GDScript" code that compiles and, run against
# the echo server in $GDHTTP_DOCK_ECHO, sends a body full of quoting traps byte-exact.
# The curl command is printed (CURL <base64>) for the pytest side to parse with shlex.
extends "res://suite_base.gd"

const Snippets = preload("res://addons/gdhttp/dock/snippets.gd")
const NASTY = "quote \" backslash \\ tab \t cr \r nl \n dollar $ percent %s % brace {} é ü 🙂 '"

var got = null

func spec(extra = {}):
	var s = {"method": "GET", "url": "http://127.0.0.1:1/", "headers": [], "body_mode": "none",
		"body_text": "", "body_file": "", "verify": true, "ca_file": "", "pins": [],
		"proxy": "", "timeout": 0.0, "follow_redirects": true, "accept_gzip": true}
	for key in extra:
		s[key] = extra[key]
	return s

func run():
	var secret = spec({"url": "https://ann:pw1@example.com/a@b?c=d",
		"headers": ["Authorization: Bearer t0k", "cookie: a=1", "Accept: */*",
			"X-Api-Key: k3y", "Proxy-Authorization: Basic eA=="],
		"proxy": "bob:pw2@127.0.0.1:3128"})
	var masked = Snippets.for_history(secret, false)
	check_eq("masked headers", masked.headers, ["Authorization: <masked>", "cookie: <masked>",
		"Accept: */*", "X-Api-Key: <masked>", "Proxy-Authorization: <masked>"])
	check_eq("masked url", masked.url, "https://ann:<masked>@example.com/a@b?c=d")
	check_eq("masked proxy", masked.proxy, "bob:<masked>@127.0.0.1:3128")
	check("masked flag", masked.masked)
	check_eq("spec untouched", secret.headers[0], "Authorization: Bearer t0k")
	var kept = Snippets.for_history(secret, true)
	check("kept as typed", kept.headers == secret.headers and kept.url == secret.url
		and kept.proxy == secret.proxy and not kept.masked)
	var plain = Snippets.for_history(spec({"url": "http://ann@example.com/x:y@z"}), false)
	check_eq("user without password", plain.url, "http://ann@example.com/x:y@z")
	check("nothing to mask", not plain.masked)

	check_eq("proxy host:port", Snippets.split_proxy("proxy.lan:3128"), ["proxy.lan", 3128])
	check_eq("proxy with scheme and auth", Snippets.split_proxy("http://u:p@h:8080/"), ["u:p@h", 8080])
	check_eq("proxy without port", Snippets.split_proxy("u:p@h"), [])
	check_eq("no proxy", Snippets.split_proxy(" "), [])

	var echo = OS.get_environment("GDHTTP_DOCK_ECHO")
	var post = spec({"method": "POST", "url": echo, "body_mode": "text", "body_text": NASTY,
		"headers": ["X-Nasty: it's \"quoted\" \\ $HOME"], "timeout": 20.0, "accept_gzip": false})
	print("CURL ", Marshalls.utf8_to_base64(Snippets.to_curl(post)))  # one line
	var script = GDScript.new()
	script.source_code = Snippets.to_gdscript(post)
	check_eq("generated code compiles", script.reload(), OK)
	var node = script.new()
	root.add_child(node)
	var http = node.get_child(0)
	check_eq("a PyHTTPRequest", http.get_class(), "Node")
	check_eq("timeout set", http.timeout, 20.0)
	check_eq("gzip off", http.accept_gzip, false)
	http.connect("request_completed", self, "_done")
	for i in range(2000):
		if got != null:
			break
		yield(self, "idle_frame")
	check("completed", got != null)
	if got != null:
		check_eq("result and code", [got[0], got[1]], [0, 200])
		check_eq("body byte-exact", got[3].get_string_from_utf8(), NASTY)
		var headers = {}
		for line in got[2]:
			headers[line.split(":")[0].to_lower()] = line.substr(line.find(":") + 1).strip_edges()
		check_eq("method", headers.get("x-method", ""), "POST")
		check_eq("body length", int(headers.get("x-body-length", "0")), NASTY.to_utf8().size())
	node.queue_free()
	yield(frames(2), "completed")

func _done(result, code, headers, body):
	got = [result, code, headers, body]
