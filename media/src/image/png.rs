//! Raster rendering into an RGBA PNG.

use thiserror::Error;

use super::color::Rgba;
use super::columns::Columns;
use super::{ImageStyle, Shape, TICK_LENGTH, shapes, ticks};

/// An image that cannot be made.
#[derive(Debug, Error)]
pub enum ImageError {
    /// No columns, or more than a PNG can hold.
    #[error("cannot draw an image {0} pixels wide")]
    Width(usize),
    /// The PNG encoder failed.
    #[error("cannot encode PNG: {0}")]
    Encode(#[from] ::png::EncodingError),
}

/// RGBA pixels, row by row.
struct Canvas {
    width: u32,
    height: u32,
    pixels: Vec<Rgba>,
}

impl Canvas {
    fn paint(&mut self, x: u32, y: u32, color: Rgba) {
        if x < self.width && y < self.height {
            let index = y as usize * self.width as usize + x as usize;
            self.pixels[index] = color.over(self.pixels[index]);
        }
    }

    fn fill(&mut self, shape: Shape, color: Rgba) {
        for y in shape.y..shape.y + shape.height {
            for x in shape.x..shape.x + shape.width {
                if !shape.rounded || inside_rounded(shape, x, y) {
                    self.paint(x, y, color);
                }
            }
        }
    }
}

/// Whether the centre of pixel (`x`, `y`) lies in `shape` with semicircular ends.
fn inside_rounded(shape: Shape, x: u32, y: u32) -> bool {
    let radius = f64::from(shape.width.min(shape.height)) / 2.0;
    let (px, py) = (f64::from(x) + 0.5, f64::from(y) + 0.5);
    let (left, top) = (f64::from(shape.x), f64::from(shape.y));
    let (right, bottom) = (left + f64::from(shape.width), top + f64::from(shape.height));
    let cx = px.clamp(left + radius, right - radius);
    let cy = py.clamp(top + radius, bottom - radius);
    (px - cx).powi(2) + (py - cy).powi(2) <= radius * radius
}

/// The waveform of `columns` as PNG bytes, one pixel column per column.
pub fn render_png(columns: &Columns, style: &ImageStyle) -> Result<Vec<u8>, ImageError> {
    let width = u32::try_from(columns.width())
        .ok()
        .filter(|&width| width > 0)
        .ok_or(ImageError::Width(columns.width()))?;
    let height = style.height.get();
    let mut canvas = Canvas {
        width,
        height,
        pixels: vec![style.background; width as usize * height as usize],
    };
    for shape in shapes(columns, style) {
        canvas.fill(shape, style.waveform);
    }
    if style.axis_labels {
        for tick in ticks(columns) {
            for row in (0..TICK_LENGTH).flat_map(|y| [y, height.saturating_sub(1 + y)]) {
                canvas.paint(tick.x, row, style.axis_label);
            }
        }
    }
    encode(&canvas)
}

fn encode(canvas: &Canvas) -> Result<Vec<u8>, ImageError> {
    let mut bytes = Vec::new();
    let mut encoder = ::png::Encoder::new(&mut bytes, canvas.width, canvas.height);
    encoder.set_color(::png::ColorType::Rgba);
    encoder.set_depth(::png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    let data: Vec<u8> = canvas
        .pixels
        .iter()
        .flat_map(|p| [p.r, p.g, p.b, p.a])
        .collect();
    writer.write_image_data(&data)?;
    writer.finish()?;
    Ok(bytes)
}
