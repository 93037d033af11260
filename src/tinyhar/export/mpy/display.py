# tinyhar display abstraction: show(title, lines) on whatever screen exists.
#
# open_display() tries, in order:
#   1. M5Stack UIFlow 2 firmware (`import M5`, M5.Lcd.*),
#   2. a minimal ST7789 SPI driver for the M5StickC PLUS2 panel (135 x 240,
#      SCLK=GPIO13, MOSI=GPIO15, CS=GPIO5, DC=GPIO14, RST=GPIO12,
#      backlight GPIO27; the panel sits at column 52, row 40 of the
#      controller's 240 x 320 RAM) with MicroPython's framebuf 8x8 font,
#   3. print() (unix port, boards without a screen).
# Pass kind="print" to skip the hardware, or pins=dict(...) to change them.


class PrintDisplay:
    """Fallback: the text goes to the console only (apps print it anyway)."""

    kind = "print"

    def show(self, title, lines=()):
        pass


class M5Display:
    """M5Stack UIFlow 2 (M5.Lcd)."""

    kind = "m5"

    def __init__(self):
        import M5

        M5.begin()
        self.lcd = M5.Lcd
        try:
            self.lcd.setRotation(1)
            self.lcd.setTextSize(2)
        except Exception:
            pass

    def show(self, title, lines=()):
        lcd = self.lcd
        lcd.clear()
        lcd.setCursor(4, 4)
        lcd.print(title)
        y = 40
        for line in lines:
            lcd.setCursor(4, y)
            lcd.print(line)
            y += 20


class ST7789Display:
    """Text on an ST7789 panel over SPI (portrait, 8x8 font, white on black)."""

    kind = "st7789"

    def __init__(self, width=135, height=240, x_offset=52, y_offset=40, sck=13, mosi=15, cs=5,
                 dc=14, rst=12, backlight=27, spi_id=1, baudrate=27000000):
        import framebuf
        from machine import SPI, Pin

        self.width = width
        self.height = height
        self.xo = x_offset
        self.yo = y_offset
        self.cs = Pin(cs, Pin.OUT, value=1)
        self.dc = Pin(dc, Pin.OUT, value=0)
        self.rst = Pin(rst, Pin.OUT, value=1)
        if backlight is not None:
            Pin(backlight, Pin.OUT, value=1)
        self.spi = SPI(spi_id, baudrate=baudrate, polarity=1, phase=1, sck=Pin(sck),
                       mosi=Pin(mosi))
        # one text line of 10 pixels, RGB565 (byte-swapped for the panel)
        self.line_h = 10
        self.buf = bytearray(width * self.line_h * 2)
        self.fb = framebuf.FrameBuffer(self.buf, width, self.line_h, framebuf.RGB565)
        self._init_panel()

    def _cmd(self, c, data=None):
        self.cs(0)
        self.dc(0)
        self.spi.write(bytes((c,)))
        if data:
            self.dc(1)
            self.spi.write(data)
        self.cs(1)

    def _init_panel(self):
        import time

        self.rst(0)
        time.sleep_ms(20)
        self.rst(1)
        time.sleep_ms(120)
        self._cmd(0x01)  # SWRESET
        time.sleep_ms(150)
        self._cmd(0x11)  # SLPOUT
        time.sleep_ms(120)
        self._cmd(0x3A, b"\x55")  # COLMOD: 16 bit/pixel
        self._cmd(0x36, b"\x00")  # MADCTL: portrait
        self._cmd(0x21)  # INVON (IPS panel)
        self._cmd(0x13)  # NORON
        self._cmd(0x29)  # DISPON
        self.clear()

    def _window(self, x0, y0, x1, y1):
        x0 += self.xo
        x1 += self.xo
        y0 += self.yo
        y1 += self.yo
        self._cmd(0x2A, bytes((x0 >> 8, x0 & 255, x1 >> 8, x1 & 255)))
        self._cmd(0x2B, bytes((y0 >> 8, y0 & 255, y1 >> 8, y1 & 255)))
        self._cmd(0x2C)

    def _blit_line(self, row):
        y = row * self.line_h
        if y + self.line_h > self.height:
            return
        self._window(0, y, self.width - 1, y + self.line_h - 1)
        self.cs(0)
        self.dc(1)
        self.spi.write(self.buf)
        self.cs(1)

    def clear(self):
        self.fb.fill(0)
        for row in range(self.height // self.line_h):
            self._blit_line(row)

    def _text(self, row, text):
        self.fb.fill(0)
        self.fb.text(text[: self.width // 8], 0, 1, 0xFFFF)
        self._blit_line(row)

    def show(self, title, lines=()):
        rows = [title[i:i + 16] for i in range(0, len(title), 16)] or [""]
        rows += [""] + [str(line) for line in lines]
        n = self.height // self.line_h
        for row in range(n):
            self._text(row, rows[row] if row < len(rows) else "")


def open_display(kind=None, pins=None):
    """The first display that works (see the module comment), else PrintDisplay."""
    if kind == "print":
        return PrintDisplay()
    if kind in (None, "m5"):
        try:
            return M5Display()
        except Exception:
            if kind == "m5":
                raise
    if kind in (None, "st7789"):
        try:
            return ST7789Display(**(pins or {}))
        except Exception:
            if kind == "st7789":
                raise
    return PrintDisplay()
