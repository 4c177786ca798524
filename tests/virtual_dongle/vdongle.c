/*
 * A virtual RTL-SDR dongle: a drop-in librtlsdr.so.0 for tests without hardware.
 *
 * It exports the librtlsdr API (every function pyrtlsdr binds, plus what the
 * rtl_sdr, rtl_tcp and rtl_test programs call) and streams cu8 samples in real
 * time at the requested sample rate.
 *
 * Environment:
 *   VDONGLE_IQ        one cu8 file streamed at every frequency (looped)
 *   VDONGLE_SCENARIO  text file, one "CENTER_FREQ_HZ PATH.cu8" per line: the file
 *                     whose frequency is nearest the tuned one (within half the
 *                     sample rate) is streamed; elsewhere, low noise.  All files
 *                     share one time axis (the dongle's sample clock).
 *   VDONGLE_CONTROL   path of a control file, polled before every buffer; when
 *                     present it is read and deleted.  Commands, one per line:
 *                       stall SECONDS   deliver nothing for that long (samples lost)
 *                       drop N          lose the next N buffers
 *                       unplug [SECONDS] the device vanishes (for SECONDS, or
 *                                       until "replug")
 *                       replug
 *   VDONGLE_STALL_AT  "T:SECONDS": stall at stream time T (seconds of samples)
 *   VDONGLE_DROP_AT   "T:N": drop N buffers at stream time T
 *   VDONGLE_UNPLUG_AT "T:SECONDS": unplug at stream time T for SECONDS
 *   VDONGLE_SERIAL    serial number (default 00000001)
 *   VDONGLE_LOG       file to which every fault is appended as a line:
 *                       "lost SAMPLES at STREAM_SAMPLE" (samples not delivered)
 *                       "tune HZ at STREAM_SAMPLE", "unplug", "replug", and each
 *                       setting as "NAME VALUE" (sample_rate, gain_mode, gain, agc,
 *                       ppm, bias_tee, direct_sampling)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define API __attribute__((visibility("default")))
#define DEFAULT_BUF_NUM 15
#define DEFAULT_BUF_LEN (16 * 32 * 512)
#define MAX_FILES 16
#define TUNER_R820T 5

typedef void (*rtlsdr_read_async_cb_t)(unsigned char *buf, uint32_t len, void *ctx);

typedef struct {
    double freq_hz;
    unsigned char *data;
    size_t len;               /* bytes, even */
} iqfile_t;

typedef struct rtlsdr_dev {
    uint32_t rate;
    uint32_t freq;
    int ppm;
    int gain;
    int manual_gain;
    int agc;
    int direct;
    int offset_tuning;
    int bias_tee;
    int testmode;
    uint32_t bandwidth;
    uint32_t rtl_xtal, tuner_xtal;
    volatile int cancel;
    volatile int streaming;
    int64_t produced;         /* stream samples produced by the sample clock */
    double t0;                /* monotonic time of stream sample 0 */
    int clock_running;
    pthread_mutex_t lock;
} rtlsdr_dev_t;

static const int r820t_gains[] = {0, 9, 14, 27, 37, 77, 87, 125, 144, 157, 166, 197, 207, 229, 254,
                                  280, 297, 328, 338, 364, 372, 386, 402, 421, 434, 439, 445, 480, 496};

static iqfile_t files[MAX_FILES];
static int nfiles = -1;
static int all_freqs = 0;           /* VDONGLE_IQ: one file for every frequency */
static pthread_mutex_t glock = PTHREAD_MUTEX_INITIALIZER;
static volatile int unplugged = 0;
static double replug_at = 0.0;      /* monotonic time; 0: until "replug" */
static double stall_until = 0.0;
static int64_t drop_pending = 0;
static double stall_at_t = -1, stall_at_len = 0, unplug_at_t = -1, unplug_at_len = 0;
static double drop_at_t = -1;
static int64_t drop_at_n = 0;
static uint32_t noise_state = 12345;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_until(double t)
{
    for (;;) {
        double d = t - now_s();
        if (d <= 0)
            return;
        struct timespec ts = {(time_t)d, (long)((d - (time_t)d) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

static void vlog(const char *fmt, ...)
{
    const char *path = getenv("VDONGLE_LOG");
    if (!path || !*path)
        return;
    FILE *f = fopen(path, "a");
    if (!f)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
}

static int load_file(const char *path, double freq)
{
    if (nfiles >= MAX_FILES)
        return -1;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "vdongle: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    n &= ~1L;
    if (n <= 0) {
        fclose(f);
        return -1;
    }
    unsigned char *d = malloc(n);
    if (!d || fread(d, 1, n, f) != (size_t)n) {
        free(d);
        fclose(f);
        return -1;
    }
    fclose(f);
    files[nfiles].freq_hz = freq;
    files[nfiles].data = d;
    files[nfiles].len = (size_t)n;
    nfiles++;
    return 0;
}

static void parse_at(const char *name, double *t, double *v)
{
    const char *s = getenv(name);
    if (s && *s && sscanf(s, "%lf:%lf", t, v) != 2)
        *t = -1;
}

static void init_once(void)
{
    pthread_mutex_lock(&glock);
    if (nfiles < 0) {
        nfiles = 0;
        const char *iq = getenv("VDONGLE_IQ");
        const char *sc = getenv("VDONGLE_SCENARIO");
        if (iq && *iq) {
            if (load_file(iq, 0) == 0)
                all_freqs = 1;
        } else if (sc && *sc) {
            FILE *f = fopen(sc, "r");
            char line[4096], path[4000];
            double fr;
            while (f && fgets(line, sizeof line, f))
                if (sscanf(line, "%lf %3999s", &fr, path) == 2)
                    load_file(path, fr);
            if (f)
                fclose(f);
        }
        double n = 0;
        parse_at("VDONGLE_STALL_AT", &stall_at_t, &stall_at_len);
        parse_at("VDONGLE_UNPLUG_AT", &unplug_at_t, &unplug_at_len);
        parse_at("VDONGLE_DROP_AT", &drop_at_t, &n);
        drop_at_n = (int64_t)n;
    }
    pthread_mutex_unlock(&glock);
}

static void poll_control(void)
{
    const char *path = getenv("VDONGLE_CONTROL");
    if (!path || !*path)
        return;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        double v = 0;
        if (sscanf(line, "stall %lf", &v) == 1) {
            stall_until = now_s() + v;
        } else if (sscanf(line, "drop %lf", &v) == 1) {
            drop_pending += (int64_t)v;
        } else if (strncmp(line, "unplug", 6) == 0) {
            v = 0;
            sscanf(line, "unplug %lf", &v);
            unplugged = 1;
            replug_at = v > 0 ? now_s() + v : 0;
            vlog("unplug");
        } else if (strncmp(line, "replug", 6) == 0) {
            unplugged = 0;
            vlog("replug");
        }
    }
    fclose(f);
    unlink(path);
}

static void check_replug(void)
{
    if (unplugged && replug_at > 0 && now_s() >= replug_at) {
        unplugged = 0;
        vlog("replug");
    }
}

static int present(void)
{
    poll_control();
    check_replug();
    return !unplugged;
}

/* Fill n samples (2n bytes) of stream samples starting at stream sample s. */
static void fill(rtlsdr_dev_t *dev, unsigned char *out, int64_t s, uint32_t n)
{
    const iqfile_t *src = NULL;
    if (all_freqs && nfiles > 0) {
        src = &files[0];
    } else {
        double best = 0.5 * dev->rate;
        for (int i = 0; i < nfiles; i++) {
            double d = fabs(files[i].freq_hz - (double)dev->freq);
            if (d <= best) {
                best = d;
                src = &files[i];
            }
        }
    }
    if (!src) {
        for (uint32_t i = 0; i < 2 * n; i++) {
            noise_state = noise_state * 1103515245u + 12345u;
            out[i] = (unsigned char)(127 + ((noise_state >> 16) & 3) - 1);
        }
        return;
    }
    size_t pos = (size_t)((s * 2) % (int64_t)src->len);
    size_t want = 2 * (size_t)n, done = 0;
    while (done < want) {
        size_t k = src->len - pos;
        if (k > want - done)
            k = want - done;
        memcpy(out + done, src->data + pos, k);
        done += k;
        pos = 0;
    }
}

/* Wait for the next buffer of n samples on the sample clock; return 1 to deliver
 * it, 0 when it is lost (stall, drop), -1 when the device is gone. */
static int next_buffer(rtlsdr_dev_t *dev, uint32_t n)
{
    if (!dev->clock_running) {
        dev->t0 = now_s();
        dev->produced = 0;
        dev->clock_running = 1;
    }
    double due = dev->t0 + (double)(dev->produced + n) / dev->rate;
    while (now_s() < due) {
        if (dev->cancel)
            return -2;
        double t = now_s() + 0.002;
        sleep_until(t < due ? t : due);
    }
    if (!present())
        return -1;
    double stream_t = (double)dev->produced / dev->rate;
    if (stall_at_t >= 0 && stream_t >= stall_at_t) {
        stall_until = now_s() + stall_at_len;
        stall_at_t = -1;
    }
    if (drop_at_t >= 0 && stream_t >= drop_at_t) {
        drop_pending += drop_at_n;
        drop_at_t = -1;
    }
    if (unplug_at_t >= 0 && stream_t >= unplug_at_t) {
        unplugged = 1;
        replug_at = unplug_at_len > 0 ? now_s() + unplug_at_len : 0;
        unplug_at_t = -1;
        vlog("unplug");
        return -1;
    }
    if (drop_pending > 0 || now_s() < stall_until) {
        if (drop_pending > 0)
            drop_pending--;
        vlog("lost %u at %lld", n, (long long)dev->produced);
        dev->produced += n;
        return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------ device list */

API uint32_t rtlsdr_get_device_count(void)
{
    init_once();
    return present() ? 1 : 0;
}

API const char *rtlsdr_get_device_name(uint32_t index)
{
    return (index == 0 && present()) ? "Generic RTL2832U OEM (virtual)" : "";
}

static const char *serial(void)
{
    const char *s = getenv("VDONGLE_SERIAL");
    return (s && *s) ? s : "00000001";
}

API int rtlsdr_get_device_usb_strings(uint32_t index, char *manufact, char *product, char *serial_out)
{
    if (index != 0 || !present())
        return -1;
    if (manufact)
        strcpy(manufact, "Realtek");
    if (product)
        strcpy(product, "RTL2838UHIDIR");
    if (serial_out)
        snprintf(serial_out, 256, "%s", serial());
    return 0;
}

API int rtlsdr_get_index_by_serial(const char *s)
{
    if (!s)
        return -1;
    if (!present())
        return -2;
    return strcmp(s, serial()) == 0 ? 0 : -3;
}

API int rtlsdr_open(rtlsdr_dev_t **out, uint32_t index)
{
    init_once();
    if (!out)
        return -1;
    if (index != 0 || !present())
        return -1;
    rtlsdr_dev_t *d = calloc(1, sizeof *d);
    if (!d)
        return -1;
    d->rate = 2048000;
    d->freq = 100000000;
    d->rtl_xtal = d->tuner_xtal = 28800000;
    pthread_mutex_init(&d->lock, NULL);
    *out = d;
    return 0;
}

API int rtlsdr_close(rtlsdr_dev_t *dev)
{
    if (!dev)
        return -1;
    pthread_mutex_destroy(&dev->lock);
    free(dev);
    return 0;
}

API int rtlsdr_get_usb_strings(rtlsdr_dev_t *dev, char *m, char *p, char *s)
{
    return dev ? rtlsdr_get_device_usb_strings(0, m, p, s) : -1;
}

API int rtlsdr_write_eeprom(rtlsdr_dev_t *dev, uint8_t *data, uint8_t offset, uint16_t len)
{
    (void)data; (void)offset; (void)len;
    return dev ? -3 : -1;
}

API int rtlsdr_read_eeprom(rtlsdr_dev_t *dev, uint8_t *data, uint8_t offset, uint16_t len)
{
    (void)data; (void)offset; (void)len;
    return dev ? -3 : -1;
}

/* ------------------------------------------------------------------ configuration */

#define CHECK(dev) do { if (!(dev)) return -1; if (!present()) return -4; } while (0)

API int rtlsdr_set_center_freq(rtlsdr_dev_t *dev, uint32_t freq)
{
    CHECK(dev);
    if (freq < 24000000u && !dev->direct)
        return -2;
    dev->freq = freq;
    vlog("tune %u at %lld", freq, (long long)dev->produced);
    return 0;
}

API uint32_t rtlsdr_get_center_freq(rtlsdr_dev_t *dev) { return dev ? dev->freq : 0; }

API int rtlsdr_set_freq_correction(rtlsdr_dev_t *dev, int ppm)
{
    CHECK(dev);
    if (dev->ppm == ppm)
        return -2;     /* as librtlsdr: "no change" */
    dev->ppm = ppm;
    vlog("ppm %d", ppm);
    return 0;
}

API int rtlsdr_get_freq_correction(rtlsdr_dev_t *dev) { return dev ? dev->ppm : 0; }

API int rtlsdr_set_xtal_freq(rtlsdr_dev_t *dev, uint32_t rtl_freq, uint32_t tuner_freq)
{
    CHECK(dev);
    if (rtl_freq)
        dev->rtl_xtal = rtl_freq;
    if (tuner_freq)
        dev->tuner_xtal = tuner_freq;
    return 0;
}

API int rtlsdr_get_xtal_freq(rtlsdr_dev_t *dev, uint32_t *rtl_freq, uint32_t *tuner_freq)
{
    if (!dev)
        return -1;
    if (rtl_freq)
        *rtl_freq = dev->rtl_xtal;
    if (tuner_freq)
        *tuner_freq = dev->tuner_xtal;
    return 0;
}

API int rtlsdr_get_tuner_type(rtlsdr_dev_t *dev) { return dev ? TUNER_R820T : 0; }

API int rtlsdr_get_tuner_gains(rtlsdr_dev_t *dev, int *gains)
{
    if (!dev)
        return -1;
    int n = (int)(sizeof r820t_gains / sizeof r820t_gains[0]);
    if (gains)
        memcpy(gains, r820t_gains, sizeof r820t_gains);
    return n;
}

API int rtlsdr_set_tuner_gain(rtlsdr_dev_t *dev, int gain)
{
    CHECK(dev);
    dev->gain = gain;
    vlog("gain %d", gain);
    return 0;
}

API int rtlsdr_get_tuner_gain(rtlsdr_dev_t *dev) { return dev ? dev->gain : 0; }

API int rtlsdr_set_tuner_if_gain(rtlsdr_dev_t *dev, int stage, int gain)
{
    (void)stage; (void)gain;
    CHECK(dev);
    return 0;
}

API int rtlsdr_set_tuner_gain_mode(rtlsdr_dev_t *dev, int manual)
{
    CHECK(dev);
    dev->manual_gain = manual;
    vlog("gain_mode %d", manual);
    return 0;
}

API int rtlsdr_set_tuner_bandwidth(rtlsdr_dev_t *dev, uint32_t bw)
{
    CHECK(dev);
    dev->bandwidth = bw;
    return 0;
}

API int rtlsdr_set_and_get_tuner_bandwidth(rtlsdr_dev_t *dev, uint32_t bw, uint32_t *applied_bw, int apply_bw)
{
    CHECK(dev);
    if (apply_bw)
        dev->bandwidth = bw;
    if (applied_bw)
        *applied_bw = bw ? bw : dev->rate;
    return 0;
}

API int rtlsdr_set_sample_rate(rtlsdr_dev_t *dev, uint32_t rate)
{
    CHECK(dev);
    /* the RTL2832's valid ranges */
    if (rate <= 225000 || rate > 3200000 || (rate > 300000 && rate <= 900000))
        return -22;
    dev->rate = rate;
    dev->clock_running = 0;
    vlog("sample_rate %u", rate);
    return 0;
}

API uint32_t rtlsdr_get_sample_rate(rtlsdr_dev_t *dev) { return dev ? dev->rate : 0; }

API int rtlsdr_set_testmode(rtlsdr_dev_t *dev, int on)
{
    CHECK(dev);
    dev->testmode = on;
    return 0;
}

API int rtlsdr_set_agc_mode(rtlsdr_dev_t *dev, int on)
{
    CHECK(dev);
    dev->agc = on;
    vlog("agc %d", on);
    return 0;
}

API int rtlsdr_set_direct_sampling(rtlsdr_dev_t *dev, int on)
{
    CHECK(dev);
    if (on < 0 || on > 2)
        return -1;
    dev->direct = on;
    vlog("direct_sampling %d", on);
    return 0;
}

API int rtlsdr_get_direct_sampling(rtlsdr_dev_t *dev) { return dev ? dev->direct : -1; }

API int rtlsdr_set_offset_tuning(rtlsdr_dev_t *dev, int on)
{
    CHECK(dev);
    dev->offset_tuning = on;
    return 0;
}

API int rtlsdr_get_offset_tuning(rtlsdr_dev_t *dev) { return dev ? dev->offset_tuning : -1; }

API int rtlsdr_set_dithering(rtlsdr_dev_t *dev, int on)
{
    (void)on;
    CHECK(dev);
    return 0;
}

API int rtlsdr_set_bias_tee(rtlsdr_dev_t *dev, int on)
{
    CHECK(dev);
    dev->bias_tee = on;
    vlog("bias_tee %d", on);
    return 0;
}

API int rtlsdr_set_bias_tee_gpio(rtlsdr_dev_t *dev, int gpio, int on)
{
    (void)gpio;
    return rtlsdr_set_bias_tee(dev, on);
}

static uint8_t gpio_byte = 0;

API int rtlsdr_set_gpio_output(rtlsdr_dev_t *dev, uint8_t gpio) { (void)gpio; return dev ? 0 : -1; }
API int rtlsdr_set_gpio_input(rtlsdr_dev_t *dev, uint8_t gpio) { (void)gpio; return dev ? 0 : -1; }

API int rtlsdr_set_gpio_bit(rtlsdr_dev_t *dev, uint8_t gpio, int val)
{
    if (!dev || gpio > 7)
        return -1;
    gpio_byte = val ? (gpio_byte | (1u << gpio)) : (gpio_byte & ~(1u << gpio));
    return 0;
}

API int rtlsdr_get_gpio_bit(rtlsdr_dev_t *dev, uint8_t gpio, int *val)
{
    if (!dev || gpio > 7 || !val)
        return -1;
    *val = (gpio_byte >> gpio) & 1;
    return 0;
}

API int rtlsdr_set_gpio_byte(rtlsdr_dev_t *dev, int val)
{
    if (!dev)
        return -1;
    gpio_byte = (uint8_t)val;
    return 0;
}

API int rtlsdr_get_gpio_byte(rtlsdr_dev_t *dev, int *val)
{
    if (!dev || !val)
        return -1;
    *val = gpio_byte;
    return 0;
}

API int rtlsdr_set_gpio_status(rtlsdr_dev_t *dev, int *status)
{
    if (!dev || !status)
        return -1;
    *status = gpio_byte;
    return 0;
}

/* ------------------------------------------------------------------ streaming */

API int rtlsdr_reset_buffer(rtlsdr_dev_t *dev)
{
    CHECK(dev);
    dev->clock_running = 0;
    return 0;
}

API int rtlsdr_read_sync(rtlsdr_dev_t *dev, void *buf, int len, int *n_read)
{
    CHECK(dev);
    if (!buf || len < 2)
        return -1;
    uint32_t n = (uint32_t)len / 2;
    dev->cancel = 0;
    for (;;) {
        int r = next_buffer(dev, n);
        if (r < 0)
            return -1;
        if (r == 1)
            break;
    }
    fill(dev, buf, dev->produced, n);
    dev->produced += n;
    if (n_read)
        *n_read = (int)(2 * n);
    return 0;
}

API int rtlsdr_read_async(rtlsdr_dev_t *dev, rtlsdr_read_async_cb_t cb, void *ctx, uint32_t buf_num,
                          uint32_t buf_len)
{
    CHECK(dev);
    (void)buf_num;
    if (!buf_len)
        buf_len = DEFAULT_BUF_LEN;
    if (buf_len % 512)
        return -22;
    uint32_t n = buf_len / 2;
    unsigned char *buf = malloc(buf_len);
    if (!buf)
        return -1;
    dev->cancel = 0;
    dev->streaming = 1;
    int result = 0;
    while (!dev->cancel) {
        int r = next_buffer(dev, n);
        if (r == -2)
            break;
        if (r == -1) {
            /* as librtlsdr on LIBUSB_TRANSFER_NO_DEVICE: the read ends */
            result = 0;
            break;
        }
        if (r == 0)
            continue;
        fill(dev, buf, dev->produced, n);
        dev->produced += n;
        cb(buf, buf_len, ctx);
    }
    dev->streaming = 0;
    free(buf);
    return result;
}

API int rtlsdr_wait_async(rtlsdr_dev_t *dev, rtlsdr_read_async_cb_t cb, void *ctx)
{
    return rtlsdr_read_async(dev, cb, ctx, 0, 0);
}

API int rtlsdr_cancel_async(rtlsdr_dev_t *dev)
{
    if (!dev)
        return -1;
    dev->cancel = 1;
    return 0;
}
