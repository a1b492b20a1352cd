//! Colours as image options spell them: hex `RRGGBB` or `RRGGBBAA`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Text that is not a hex colour.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid colour {0:?}: expected hex RRGGBB or RRGGBBAA")]
pub struct InvalidColor(String);

/// An sRGB colour with straight alpha; in JSON, the hex text the command line takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Rgba {
    /// Red.
    pub r: u8,
    /// Green.
    pub g: u8,
    /// Blue.
    pub b: u8,
    /// Opacity; 255 is opaque.
    pub a: u8,
}

impl Rgba {
    /// An opaque colour.
    pub const fn opaque(r: u8, g: u8, b: u8) -> Self {
        Self { r, g, b, a: 255 }
    }

    /// `self` painted over `below`, as the PNG renderer composites.
    pub(crate) fn over(self, below: Self) -> Self {
        let alpha = u32::from(self.a);
        let mix = |top: u8, bottom: u8| {
            let blended = (u32::from(top) * alpha + u32::from(bottom) * (255 - alpha) + 127) / 255;
            u8::try_from(blended).unwrap_or(u8::MAX)
        };
        let a = alpha + u32::from(below.a) * (255 - alpha) / 255;
        Self {
            r: mix(self.r, below.r),
            g: mix(self.g, below.g),
            b: mix(self.b, below.b),
            a: u8::try_from(a).unwrap_or(u8::MAX),
        }
    }
}

impl FromStr for Rgba {
    type Err = InvalidColor;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidColor(text.to_owned());
        if !matches!(text.len(), 6 | 8) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid());
        }
        let byte = |at: usize| u8::from_str_radix(&text[at..at + 2], 16).map_err(|_| invalid());
        let a = if text.len() == 8 { byte(6)? } else { 255 };
        Ok(Self {
            r: byte(0)?,
            g: byte(2)?,
            b: byte(4)?,
            a,
        })
    }
}

impl TryFrom<String> for Rgba {
    type Error = InvalidColor;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Rgba> for String {
    /// `RRGGBBAA`, which parses back to the same colour.
    fn from(c: Rgba) -> Self {
        format!("{:02X}{:02X}{:02X}{:02X}", c.r, c.g, c.b, c.a)
    }
}

impl fmt::Display for Rgba {
    /// `#rrggbb`, as SVG fills take it; alpha goes in a separate opacity attribute.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_digits_are_opaque_and_eight_carry_alpha() {
        assert_eq!("3A66C6".parse(), Ok(Rgba::opaque(0x3A, 0x66, 0xC6)));
        let translucent: Rgba = "ff000080".parse().expect("colour");
        assert_eq!(translucent.a, 0x80);
    }

    #[test]
    fn json_spells_a_colour_as_hex_that_reads_back() {
        let colour: Rgba = serde_json::from_str("\"3a66c680\"").expect("colour");
        let text = serde_json::to_string(&colour).expect("writes");
        assert_eq!(text, "\"3A66C680\"");
        assert!(serde_json::from_str::<Rgba>("\"blue\"").is_err());
    }

    #[test]
    fn anything_else_is_refused() {
        for text in ["", "fff", "#ffffff", "gggggg", "ffffff0", "ü12345"] {
            assert!(text.parse::<Rgba>().is_err(), "{text}");
        }
    }

    #[test]
    fn half_transparent_black_over_white_is_mid_grey() {
        let grey = Rgba {
            a: 128,
            ..Rgba::opaque(0, 0, 0)
        }
        .over(Rgba::opaque(255, 255, 255));
        assert_eq!((grey.r, grey.a), (127, 255));
    }
}
