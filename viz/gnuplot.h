// Runs gnuplot (the Debian package gnuplot-nox) on a script the program writes, and helpers to
// build such scripts safely. Every figure in viz/ renders through render_gnuplot.
#pragma once
#include <string>
#include <vector>

namespace headscope::viz {

enum class ImageFormat { Png, Svg, Pdf };

// Chooses the format from the output file's extension (.png, .svg or .pdf, case-insensitive);
// throws Error otherwise.
ImageFormat format_for_path(const std::string& path);

// The gnuplot executable: $HEADSCOPE_GNUPLOT if set, else "gnuplot" found in $PATH. Throws
// Error (naming the Debian package) when it cannot be found.
std::string find_gnuplot();

// Writes `script` (everything after the terminal/output settings) into a private temporary
// directory, runs gnuplot on it there (with a pngcairo, svg or pdfcairo terminal of width x height
// pixels; a PDF page is width/100 x height/100 inches,
// drawing into that directory: the output path never reaches gnuplot), checks that the image is
// complete, and only then publishes it to `out_path` through common/atomic_file.h. The directory
// is removed on return, on an exception and on SIGINT/SIGTERM. gnuplot is killed after
// $HEADSCOPE_GNUPLOT_TIMEOUT seconds (default 120). Throws Error (one line) if gnuplot fails,
// hangs, or produces no or an incomplete image; `out_path` is then untouched.
void render_gnuplot(const std::string& script, const std::string& out_path, int width,
                    int height);

// True when `bytes` is a whole image: a PNG signature and a final IEND chunk, an SVG that
// ends with its closing </svg> tag, or a PDF that starts with %PDF- and ends with %%EOF.
bool image_is_complete(const std::string& bytes, ImageFormat fmt);

// A gnuplot string expression for `s` that gnuplot cannot expand: a single-quoted literal ('' for
// a quote); newlines become ('line1'."\n".'line2'). Every user-controlled text (group ids, head
// types, file names) reaches a script only through this or gp_data_string.
std::string gp_quote(const std::string& s);
// A token for a data-block column: a double-quoted string without quotes or newlines inside
// (gnuplot 5.4 expands nothing inside data blocks; a test checks it).
std::string gp_data_string(const std::string& s);
// A number for a script or data block ("NaN" when not finite).
std::string gp_num(double v);
// An inline data block: "$name << EOD\n" + lines + "EOD\n".
std::string gp_datablock(const std::string& name, const std::vector<std::string>& lines);

// Fixed colours as "#rrggbb".
struct Rgb {
  int r = 0, g = 0, b = 0;
};
Rgb parse_rgb(const std::string& hex);
std::string rgb_hex(const Rgb& c);
// The colour mixed with white: weight 1 gives `c`, 0 gives white.
Rgb shade_toward_white(const Rgb& c, double weight);
// The integer gnuplot reads with `lc rgb variable` (0xRRGGBB).
long rgb_int(const Rgb& c);

// "a, b and c" style figure subtitle pieces joined with " | ", skipping empty ones.
std::string join_nonempty(const std::vector<std::string>& parts, const std::string& sep);

}  // namespace headscope::viz
