// Runs gnuplot (the Debian package gnuplot-nox) on a script the program writes, and helpers to
// build such scripts safely. Every figure in viz/ renders through render_gnuplot.
#pragma once
#include <string>
#include <vector>

namespace headscope::viz {

enum class ImageFormat { Png, Svg };

// Chooses the format from the output file's extension (.png or .svg, case-insensitive);
// throws Error otherwise.
ImageFormat format_for_path(const std::string& path);

// The gnuplot executable: $HEADSCOPE_GNUPLOT if set, else "gnuplot" found in $PATH. Throws
// Error (naming the Debian package) when it cannot be found.
std::string find_gnuplot();

// Writes `script` (everything after the terminal/output settings) to a temporary file, runs
// gnuplot on it with a pngcairo or svg terminal of width x height pixels, and moves the image
// atomically to `out_path`. Throws Error with gnuplot's first error line if gnuplot fails or
// produces no output.
void render_gnuplot(const std::string& script, const std::string& out_path, int width,
                    int height);

// A gnuplot double-quoted string literal for `s` (backslashes and quotes escaped, newlines as \n).
std::string gp_quote(const std::string& s);
// A token for a data-block column: a double-quoted string without quotes or newlines inside.
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
