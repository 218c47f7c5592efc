// mandelbrot: the Mandelbrot set, one task per image row (chunks of rows through
// mpiray::Pool::imap), written as a PNG or PPM.
//
//   ./build/apps/mandelbrot --width 320 --height 240 --out m.ppm
//   mpirun -np 3 --oversubscribe ./build/apps/mandelbrot --out mandelbrot.png
//   MPIRAY_PROGRESS=1 mpirun -np 4 --oversubscribe ./build/apps/mandelbrot
//       --width 3840 --height 2160 --max-iter 2000        (one command line)
//
// Rows near the set cost far more than rows outside it, so rows go out in small chunks
// (--chunksize, default 4) and the scheduler hands them to whichever rank has room. The driver
// colours rows as they arrive, in order. The iteration counts are checked against a serial
// render of every 8th row (all rows with --full-check); the file name decides the format.

#include <mpiray/mpiray.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <string>
#include <vector>

namespace {

struct RowJob {  // travels as plain bytes
  std::int32_t y, width, height, max_iter;
  double x_min, x_max, y_min, y_max;
};

// Iterations before escape for each pixel of row y (max_iter: inside the set).
std::vector<std::uint16_t> render_row(RowJob j) {
  std::vector<std::uint16_t> out(static_cast<std::size_t>(j.width));
  const double ci = j.y_max - (j.y_max - j.y_min) * (j.y + 0.5) / j.height;
  for (std::int32_t x = 0; x < j.width; ++x) {
    const double cr = j.x_min + (j.x_max - j.x_min) * (x + 0.5) / j.width;
    double zr = 0, zi = 0;
    std::int32_t it = 0;
    while (it < j.max_iter && zr * zr + zi * zi <= 4.0) {
      const double t = zr * zr - zi * zi + cr;
      zi = 2 * zr * zi + ci;
      zr = t;
      ++it;
    }
    out[static_cast<std::size_t>(x)] = static_cast<std::uint16_t>(it);
  }
  return out;
}
MPIRAY_REMOTE(render_row);

std::array<std::uint8_t, 3> colour(std::uint16_t it, int max_iter) {
  if (it >= max_iter) return {0, 0, 0};
  const double t = std::sqrt(static_cast<double>(it) / max_iter);  // brighter near the set
  return {static_cast<std::uint8_t>(255 * std::min(1.0, 3 * t)),
          static_cast<std::uint8_t>(255 * std::min(1.0, std::max(0.0, 3 * t - 1))),
          static_cast<std::uint8_t>(255 * std::min(1.0, std::max(0.0, 3 * t - 2)) * 0.6 + 60 * t)};
}

// ---- PNG without zlib: stored (uncompressed) deflate blocks, CRC-32 and Adler-32 by hand
std::uint32_t crc32(const std::uint8_t* p, std::size_t n, std::uint32_t c = 0xffffffffu) {
  static std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t v = i;
      for (int k = 0; k < 8; ++k) v = (v & 1) ? 0xedb88320u ^ (v >> 1) : v >> 1;
      t[i] = v;
    }
    return t;
  }();
  for (std::size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c;
}

void put_u32be(std::vector<std::uint8_t>& v, std::uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(static_cast<std::uint8_t>(x >> s));
}

void png_chunk(std::ofstream& f, const char* type, const std::vector<std::uint8_t>& data) {
  std::vector<std::uint8_t> buf;
  put_u32be(buf, static_cast<std::uint32_t>(data.size()));
  buf.insert(buf.end(), type, type + 4);
  buf.insert(buf.end(), data.begin(), data.end());
  put_u32be(buf, crc32(buf.data() + 4, buf.size() - 4) ^ 0xffffffffu);
  f.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
}

bool write_png(const std::string& path, int w, int h, const std::vector<std::uint8_t>& rgb) {
  std::vector<std::uint8_t> raw;  // each row: filter byte 0, then RGB
  raw.reserve(static_cast<std::size_t>(h) * (3 * w + 1));
  for (int y = 0; y < h; ++y) {
    raw.push_back(0);
    const auto* row = rgb.data() + static_cast<std::size_t>(y) * 3 * w;
    raw.insert(raw.end(), row, row + 3 * w);
  }
  std::vector<std::uint8_t> z{0x78, 0x01};
  std::uint32_t a = 1, b = 0;
  for (std::uint8_t c : raw) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  for (std::size_t off = 0; off < raw.size() || off == 0;) {
    const std::size_t len = std::min<std::size_t>(65535, raw.size() - off);
    const bool last = off + len == raw.size();
    z.push_back(last ? 1 : 0);
    z.push_back(static_cast<std::uint8_t>(len));
    z.push_back(static_cast<std::uint8_t>(len >> 8));
    z.push_back(static_cast<std::uint8_t>(~len));
    z.push_back(static_cast<std::uint8_t>(~len >> 8));
    z.insert(z.end(), raw.begin() + static_cast<std::ptrdiff_t>(off),
             raw.begin() + static_cast<std::ptrdiff_t>(off + len));
    off += len;
    if (last) break;
  }
  put_u32be(z, (b << 16) | a);
  std::ofstream f(path, std::ios::binary);
  if (!f) return false;
  const std::uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  f.write(reinterpret_cast<const char*>(sig), 8);
  std::vector<std::uint8_t> ihdr;
  put_u32be(ihdr, static_cast<std::uint32_t>(w));
  put_u32be(ihdr, static_cast<std::uint32_t>(h));
  ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});  // 8-bit RGB, deflate, no filter, no interlace
  png_chunk(f, "IHDR", ihdr);
  png_chunk(f, "IDAT", z);
  png_chunk(f, "IEND", {});
  return static_cast<bool>(f);
}

bool write_ppm(const std::string& path, int w, int h, const std::vector<std::uint8_t>& rgb) {
  std::ofstream f(path, std::ios::binary);
  f << "P6\n" << w << " " << h << "\n255\n";
  f.write(reinterpret_cast<const char*>(rgb.data()), static_cast<std::streamsize>(rgb.size()));
  return static_cast<bool>(f);
}

long arg_long(int argc, char** argv, const char* name, long dflt) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::atol(argv[i + 1]);
  return dflt;
}
std::string arg_str(int argc, char** argv, const char* name, const char* dflt) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  return dflt;
}

}  // namespace

int main(int argc, char** argv) {
  if (mpiray::help_requested(argc, argv)) {
    std::cout << "mandelbrot: the Mandelbrot set, image rows as tasks (Pool::imap), PNG or PPM\n"
                 "usage: [mpirun -np N --oversubscribe] mandelbrot [options]\n"
                 "  --width W       pixels (default 800)\n"
                 "  --height H      pixels (default 600)\n"
                 "  --max-iter N    iterations per pixel (default 500, at most 65535)\n"
                 "  --chunksize C   rows per task (default 4)\n"
                 "  --out FILE      output, .png or .ppm (default mandelbrot.png)\n"
                 "  --full-check    compare every row with a serial render (default: every 8th)\n\n"
              << mpiray::runtime_help();
    return 0;
  }
  const int w = static_cast<int>(std::clamp(arg_long(argc, argv, "--width", 800), 1L, 20000L));
  const int h = static_cast<int>(std::clamp(arg_long(argc, argv, "--height", 600), 1L, 20000L));
  const int max_iter = static_cast<int>(std::clamp(arg_long(argc, argv, "--max-iter", 500), 1L, 65535L));
  const auto chunksize = static_cast<std::size_t>(std::max(1L, arg_long(argc, argv, "--chunksize", 4)));
  const std::string out = arg_str(argc, argv, "--out", "mandelbrot.png");
  bool full_check = false;
  for (int i = 1; i < argc; ++i) full_check = full_check || std::strcmp(argv[i], "--full-check") == 0;

  return mpiray::run(argc, argv, [&] {
    // The classic view, widened to the image's aspect ratio.
    const double y_span = 2.4, x_span = y_span * w / h, x_mid = -0.65;
    std::vector<RowJob> rows;
    for (int y = 0; y < h; ++y)
      rows.push_back({y, w, h, max_iter, x_mid - x_span / 2, x_mid + x_span / 2, -y_span / 2, y_span / 2});

    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::uint8_t> rgb;
    rgb.reserve(static_cast<std::size_t>(w) * h * 3);
    std::vector<std::vector<std::uint16_t>> iters;
    iters.reserve(rows.size());
    for (const std::vector<std::uint16_t>& row : mpiray::Pool().imap(render_row, rows, chunksize)) {
      for (std::uint16_t it : row) {  // colour each row as it arrives, in order
        const auto c = colour(it, max_iter);
        rgb.insert(rgb.end(), c.begin(), c.end());
      }
      iters.push_back(row);
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    std::uint64_t total = 0, inside = 0;
    for (const auto& row : iters)
      for (std::uint16_t it : row) {
        total += it;
        inside += it >= max_iter;
      }
    const bool png = out.size() >= 4 && out.compare(out.size() - 4, 4, ".png") == 0;
    const bool written = png ? write_png(out, w, h, rgb) : write_ppm(out, w, h, rgb);

    bool ok = written && iters.size() == rows.size();
    int checked = 0;
    for (int y = 0; ok && y < h; y += full_check ? 1 : 8, ++checked)
      ok = render_row(rows[static_cast<std::size_t>(y)]) == iters[static_cast<std::size_t>(y)];
    std::cout << "mandelbrot: " << w << "x" << h << ", max " << max_iter << " iterations, " << h
              << " rows in chunks of " << chunksize << " on " << mpiray::num_workers()
              << " worker rank(s): " << std::fixed << std::setprecision(3) << secs << " s\n"
              << "pixels in the set: " << inside << " of " << static_cast<std::uint64_t>(w) * h
              << ", total iterations: " << total << "\n"
              << "wrote " << out << (written ? "" : " FAILED") << " (" << (png ? "PNG" : "PPM")
              << ")\n"
              << "check: " << checked << " rows equal to a serial render: " << (ok ? "OK" : "FAILED")
              << "\n"
              << (ok ? "mandelbrot: OK" : "mandelbrot: FAILED") << std::endl;
    return ok ? 0 : 1;
  });
}
