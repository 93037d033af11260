# tinyhar: start the live classifier at boot (copy to the board as main.py,
# e.g. `tinyhar deploy RUN --port PORT --autostart`).
# Keep button A (GPIO37 on the M5StickC PLUS2) pressed during reset to skip
# it and get the REPL; Ctrl-C also stops the app.

try:
    from machine import Pin

    skip = Pin(37, Pin.IN).value() == 0
except Exception:
    skip = False

if not skip:
    import app_live

    app_live.main(log_path="har_log.csv")
