# Loading the library and using a class must print nothing from the bridge.
extends "res://suite_base.gd"

func run():
	var p = BridgeProbe.new()
	check_eq("quiet_echo", p.echo("x"), "x")
	var c = PyHTTPClient.new()
	check_eq("quiet_client_status", c.get_status(), HTTPClient.STATUS_DISCONNECTED)
