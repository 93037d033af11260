"""Predictions on the laptop: live view, logs, MQTT, web dashboard and BLE decoding.

``tinyhar live`` reads predictions from a board (the live app's ``PRED``
lines over serial), from the simulator replaying a recording, or from MQTT
(boards publishing to ``tinyhar/<device_id>/activity``), and shows them
(:mod:`tinyhar.outputs.live`), logs them, republishes them and serves a web
dashboard (:mod:`tinyhar.outputs.web`). :mod:`tinyhar.outputs.ble` decodes
the board's BLE advertisements.
"""
