//! Vector rendering into SVG text.

use std::fmt::Write;

use super::color::Rgba;
use super::columns::Columns;
use super::{ImageStyle, TICK_LENGTH, shapes, ticks};

/// Font size of tick labels, in pixels.
const LABEL_SIZE: u32 = 10;

/// The waveform of `columns` as an SVG document, one unit per column.
pub fn render_svg(columns: &Columns, style: &ImageStyle) -> String {
    let (width, height) = (columns.width(), style.height.get());
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\">\n"
    );
    // Writing to a `String` cannot fail.
    let _ = writeln!(
        svg,
        "<rect width=\"100%\" height=\"100%\"{}/>",
        fill(style.background)
    );
    let _ = writeln!(
        svg,
        "<g{} shape-rendering=\"crispEdges\">",
        fill(style.waveform)
    );
    for shape in shapes(columns, style) {
        let radius = if shape.rounded {
            format!(" rx=\"{}\"", f64::from(shape.width.min(shape.height)) / 2.0)
        } else {
            String::new()
        };
        let _ = writeln!(
            svg,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"{radius}/>",
            shape.x, shape.y, shape.width, shape.height
        );
    }
    svg.push_str("</g>\n");
    if style.axis_labels {
        axis(&mut svg, columns, style);
    }
    svg.push_str("</svg>\n");
    svg
}

fn axis(svg: &mut String, columns: &Columns, style: &ImageStyle) {
    let height = style.height.get();
    let color = style.axis_label;
    let opacity = f64::from(color.a) / 255.0;
    let _ = writeln!(
        svg,
        "<g stroke=\"{color}\" stroke-opacity=\"{opacity}\"{} font-family=\"sans-serif\" \
         font-size=\"{LABEL_SIZE}\">",
        fill(color)
    );
    for tick in ticks(columns) {
        let x = f64::from(tick.x) + 0.5;
        let _ = writeln!(
            svg,
            "<line x1=\"{x}\" y1=\"0\" x2=\"{x}\" y2=\"{TICK_LENGTH}\"/>\
             <line x1=\"{x}\" y1=\"{height}\" x2=\"{x}\" y2=\"{}\"/>\
             <text x=\"{}\" y=\"{}\" stroke=\"none\">{}</text>",
            height - TICK_LENGTH.min(height),
            tick.x + 2,
            TICK_LENGTH + LABEL_SIZE,
            tick.label
        );
    }
    svg.push_str("</g>\n");
}

fn fill(color: Rgba) -> String {
    let opacity = f64::from(color.a) / 255.0;
    format!(" fill=\"{color}\" fill-opacity=\"{opacity}\"")
}
