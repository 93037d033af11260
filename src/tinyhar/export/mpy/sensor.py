# ruff: noqa: UP031 (MicroPython code: %-formatting works on every port)
# tinyhar sensor interface for MicroPython.
#
# A sensor has:
#   channels    names of the values read() gives, e.g. CHANNELS below
#   read(buf)   fill buf (a list or 'f' array) with one sample, e.g.
#               acc_x, acc_y, acc_z in g, gyro_x, gyro_y, gyro_z in rad/s;
#               returns False when no sample is left (replay ended)
#   realtime    True if the app must pace its reads with the sampling period
#               (polled registers); False when the sensor paces itself (FIFO)
#               or replays a file
#   close()
#
# MPU6886Sensor reads TDK InvenSense's MPU6886 6-axis IMU over I2C (M5StickC
# PLUS2: internal bus SDA=GPIO21, SCL=GPIO22, address 0x68). Registers and
# scale factors from the MPU6886 datasheet (TDK InvenSense DS-000193):
#
#   0x19 SMPLRT_DIV     sample rate = 1 kHz / (1 + SMPLRT_DIV) (DLPF on)
#   0x1A CONFIG         DLPF_CFG[2:0]: gyro low-pass 1=176 Hz, 2=92, 3=41,
#                       4=20, 5=10, 6=5 Hz (internal rate 1 kHz)
#   0x1B GYRO_CONFIG    FS_SEL[4:3]: 0=+-250, 1=+-500, 2=+-1000, 3=+-2000 dps
#   0x1C ACCEL_CONFIG   ACCEL_FS_SEL[4:3]: 0=+-2 g, 1=+-4, 2=+-8, 3=+-16 g
#   0x1D ACCEL_CONFIG2  A_DLPF_CFG[2:0] accelerometer low-pass (DEC2_CFG[5:4]
#                       averaging), ACCEL_FCHOICE_B[3]=0: DLPF on
#   0x23 FIFO_EN        0x18: accelerometer (bit 3) and gyroscope (bit 4) data
#                       go to the 1 KiB FIFO, 14-byte packets: accel x y z,
#                       temperature, gyro x y z (int16, big-endian)
#   0x38 INT_ENABLE     0: no interrupt
#   0x72, 0x73          FIFO_COUNTH/L: bytes in the FIFO; 0x74 FIFO_R_W: read port
#   0x3B..0x40          ACCEL_XOUT_H/L, Y, Z  (int16, big-endian)
#   0x41..0x42          TEMP_OUT_H/L (T = TEMP_OUT / 326.8 + 25 degC)
#   0x43..0x48          GYRO_XOUT_H/L, Y, Z   (int16, big-endian)
#   0x6A USER_CTRL      bit 6 FIFO_EN, bit 2 FIFO_RST (0x44: enable and reset)
#   0x6B PWR_MGMT_1     bit 7 DEVICE_RESET, CLKSEL[2:0]=1: best clock (PLL)
#   0x6C PWR_MGMT_2     0: accelerometer and gyroscope on
#   0x75 WHO_AM_I       0x19
#
# Sensitivity: accelerometer 16384 / 8192 / 4096 / 2048 LSB per g for
# +-2 / 4 / 8 / 16 g; gyroscope 131 / 65.5 / 32.8 / 16.4 LSB per deg/s for
# +-250 / 500 / 1000 / 2000 deg/s (then * pi / 180 for rad/s).
#
# ReplaySensor plays a CSV recording back (header line with `time` and the
# channel names, e.g. "time,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z"; values in
# s, g and rad/s), the layout app_live writes with raw_path=... and the one
# `tinyhar simulate` passes to the unix port.

import math
import struct
import time

CHANNELS = ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")

MPU6886_ADDR = 0x68
WHO_AM_I = 0x75
WHO_AM_I_VALUE = 0x19
SMPLRT_DIV = 0x19
CONFIG = 0x1A
GYRO_CONFIG = 0x1B
ACCEL_CONFIG = 0x1C
ACCEL_CONFIG2 = 0x1D
FIFO_EN = 0x23
INT_ENABLE = 0x38
FIFO_COUNTH = 0x72
FIFO_R_W = 0x74
PACKET = 14
ACCEL_XOUT_H = 0x3B
USER_CTRL = 0x6A
PWR_MGMT_1 = 0x6B
PWR_MGMT_2 = 0x6C

ACCEL_RANGES_G = (2, 4, 8, 16)
GYRO_RANGES_DPS = (250, 500, 1000, 2000)
ACCEL_LSB_PER_G = (16384.0, 8192.0, 4096.0, 2048.0)
GYRO_LSB_PER_DPS = (131.0, 65.5, 32.8, 16.4)
# DLPF_CFG -> gyro bandwidth (Hz); the same code for the accelerometer
# (A_DLPF_CFG) gives a similar bandwidth (218/99/45/21/10/5 Hz)
DLPF_BANDWIDTH_HZ = ((1, 176), (2, 92), (3, 41), (4, 20), (5, 10), (6, 5))


class MPU6886Sensor:
    """MPU6886 IMU on an I2C bus: accelerometer in g, gyroscope in rad/s.

    i2c: machine.I2C (e.g. I2C(0, scl=Pin(22), sda=Pin(21), freq=400000) on
    the M5StickC PLUS2); accel_range_g: 2, 4, 8 or 16; gyro_range_dps: 250,
    500, 1000 or 2000; sampling_rate_hz: the model's rate (the chip samples
    at 1 kHz / (1 + SMPLRT_DIV) and the low-pass filter is set below half of
    sampling_rate_hz to limit aliasing).

    fifo=True (default): the chip's clock paces the samples and keeps them in
    its FIFO (1 KiB = 73 samples, 1.4 s at 50 Hz) while the app computes
    features, so no sample is lost; read() waits for the next one. An
    overflow (the app too slow) resets the FIFO and counts `overflows`.
    fifo=False: read() returns the current data registers; the app paces the
    reads itself (samples are lost while it computes).
    """

    channels = CHANNELS

    def __init__(self, i2c, address=MPU6886_ADDR, accel_range_g=8, gyro_range_dps=2000,
                 sampling_rate_hz=50.0, fifo=True):
        self.i2c = i2c
        self.address = address
        who = self._read(WHO_AM_I, 1)[0]
        if who != WHO_AM_I_VALUE:
            raise OSError("MPU6886 not found at 0x%02x (WHO_AM_I=0x%02x)" % (address, who))
        if accel_range_g not in ACCEL_RANGES_G or gyro_range_dps not in GYRO_RANGES_DPS:
            raise ValueError("accel_range_g in (2, 4, 8, 16), gyro_range_dps in "
                             "(250, 500, 1000, 2000)")
        a_sel = ACCEL_RANGES_G.index(accel_range_g)
        g_sel = GYRO_RANGES_DPS.index(gyro_range_dps)
        self._write(PWR_MGMT_1, 0x80)  # reset
        time.sleep_ms(50)
        self._write(PWR_MGMT_1, 0x01)  # wake up, best clock
        time.sleep_ms(10)
        self._write(PWR_MGMT_2, 0x00)
        self._write(ACCEL_CONFIG, a_sel << 3)
        self._write(GYRO_CONFIG, g_sel << 3)
        dlpf = 6
        for cfg, bw in DLPF_BANDWIDTH_HZ:
            if bw < sampling_rate_hz / 2:
                dlpf = cfg
                break
        self._write(CONFIG, dlpf)
        self._write(ACCEL_CONFIG2, dlpf)
        div = int(round(1000.0 / sampling_rate_hz)) - 1
        self._write(SMPLRT_DIV, max(0, min(255, div)))
        self._write(FIFO_EN, 0x00)
        self._write(USER_CTRL, 0x00)
        self._write(INT_ENABLE, 0x00)
        self.acc_scale = 1.0 / ACCEL_LSB_PER_G[a_sel]
        self.gyro_scale = math.pi / 180.0 / GYRO_LSB_PER_DPS[g_sel]
        self._raw = bytearray(PACKET)
        self.fifo = fifo
        self.realtime = not fifo  # with the FIFO the chip paces the samples
        self.overflows = 0
        self._chunk = bytearray(PACKET * 8)
        self._have = 0
        self._pos = 0
        time.sleep_ms(20)
        if fifo:
            self._write(FIFO_EN, 0x18)
            self._write(USER_CTRL, 0x44)  # enable + reset the FIFO

    def _fifo_count(self):
        c = self._read(FIFO_COUNTH, 2)
        return (c[0] << 8) | c[1]

    def _next_packet(self):
        # next 14-byte packet from the FIFO (waits for it)
        if self._pos >= self._have:
            while True:
                count = self._fifo_count()
                if count >= 1024 - PACKET:
                    self.overflows += 1
                    self._write(USER_CTRL, 0x44)
                    continue
                if count >= PACKET:
                    break
                time.sleep_ms(1)
            n = min(count // PACKET, len(self._chunk) // PACKET) * PACKET
            mv = memoryview(self._chunk)
            self.i2c.readfrom_mem_into(self.address, FIFO_R_W, mv[:n])
            self._have = n
            self._pos = 0
        p = self._pos
        self._pos += PACKET
        return memoryview(self._chunk)[p:p + PACKET]

    def _read(self, reg, n):
        return self.i2c.readfrom_mem(self.address, reg, n)

    def _write(self, reg, value):
        self.i2c.writeto_mem(self.address, reg, bytes((value,)))

    def read(self, buf):
        """One sample into buf[0:6] (g, rad/s); returns True."""
        if self.fifo:
            raw = self._next_packet()
        else:
            raw = self._raw
            self.i2c.readfrom_mem_into(self.address, ACCEL_XOUT_H, raw)
        ax, ay, az, _t, gx, gy, gz = struct.unpack(">hhhhhhh", raw)
        a = self.acc_scale
        g = self.gyro_scale
        buf[0] = ax * a
        buf[1] = ay * a
        buf[2] = az * a
        buf[3] = gx * g
        buf[4] = gy * g
        buf[5] = gz * g
        return True

    def close(self):
        if self.fifo:
            self._write(USER_CTRL, 0x00)
            self._write(FIFO_EN, 0x00)


class ReplaySensor:
    """Replays a CSV recording (header: time and channel names) as a sensor.

    path: the CSV file; channels: the channel order of read() (default: the
    six IMU channels; channels missing from the file read as 0). t_s holds
    the time column of the last sample read.
    """

    realtime = False

    def __init__(self, path, channels=CHANNELS):
        self.channels = tuple(channels)
        self.f = open(path)
        header = self.f.readline().strip().split(",")
        names = [h.strip() for h in header]
        self.time_col = names.index("time") if "time" in names else -1
        self.cols = [names.index(c) if c in names else -1 for c in channels]
        self.t_s = 0.0
        self.n = 0

    def read(self, buf):
        """Next sample into buf; False at the end of the file."""
        line = self.f.readline()
        while line and not line.strip():
            line = self.f.readline()
        if not line:
            return False
        tok = line.split(",")
        for i, c in enumerate(self.cols):
            buf[i] = float(tok[c]) if c >= 0 else 0.0
        if self.time_col >= 0:
            self.t_s = float(tok[self.time_col])
        self.n += 1
        return True

    def close(self):
        self.f.close()
