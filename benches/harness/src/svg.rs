//! A horizontal bar chart of selvedge/peer ratios, as SVG, on a log scale
//! centred on 1 (left of the line: selvedge ahead).

use std::fmt::Write as _;

/// The chart of `bars` (a label and a ratio each), as an SVG document.
pub fn chart(bars: &[(String, f64)]) -> String {
    let (label_w, plot_w, row_h, top) = (330.0, 420.0, 22.0, 40.0);
    let height = top + row_h * bars.len() as f64 + 40.0;
    let width = label_w + plot_w + 80.0;
    // log10 range: 1/1000 .. 10
    let (lo, hi) = (-3.0f64, 1.0f64);
    let x = |ratio: f64| label_w + (ratio.log10().clamp(lo, hi) - lo) / (hi - lo) * plot_w;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r#"<text x="10" y="20" font-size="14" font-weight="bold">selvedge time (or memory) / peer's, log scale: left of 1 = selvedge ahead</text>"#
    );
    for (i, (label, ratio)) in bars.iter().enumerate() {
        let y = top + row_h * i as f64;
        let (x0, x1) = (x(1.0).min(x(*ratio)), x(1.0).max(x(*ratio)));
        let color = if *ratio <= 1.0 { "#2a9d5c" } else { "#d1495b" };
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text><rect x="{x0:.1}" y="{}" width="{:.1}" height="{}" fill="{color}"/><text x="{}" y="{}">{ratio:.3}</text>"#,
            label_w - 8.0,
            y + 14.0,
            label.replace('&', "&amp;").replace('<', "&lt;"),
            y + 3.0,
            (x1 - x0).max(1.0),
            row_h - 6.0,
            x1 + 4.0,
            y + 14.0,
        );
    }
    let axis_y = top + row_h * bars.len() as f64 + 4.0;
    for p in -3..=1 {
        let r = 10f64.powi(p);
        let _ = writeln!(
            s,
            r##"<line x1="{0:.1}" y1="{top}" x2="{0:.1}" y2="{axis_y}" stroke="{1}"/><text x="{0:.1}" y="{2}" text-anchor="middle">{r}</text>"##,
            x(r),
            if p == 0 { "#000" } else { "#ccc" },
            axis_y + 16.0,
        );
    }
    s.push_str("</svg>\n");
    s
}
