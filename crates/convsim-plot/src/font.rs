//! The bundled font (`DejaVu Sans`, licence in `assets/DejaVuSans-LICENSE.txt`), registered with
//! plotters' `ab_glyph` text renderer on first use: no fontconfig or freetype at run time.

use std::sync::OnceLock;

use plotters::style::{FontStyle, register_font};

use crate::error::DrawError;

static DEJAVU_SANS: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
static REGISTERED: OnceLock<Result<(), DrawError>> = OnceLock::new();

/// Font family name used by every picture.
pub(crate) const FAMILY: &str = "sans-serif";

/// Registers the bundled font for every style plotters may ask for (idempotent).
pub(crate) fn ensure_font() -> Result<(), DrawError> {
    REGISTERED
        .get_or_init(|| {
            for style in [
                FontStyle::Normal,
                FontStyle::Bold,
                FontStyle::Italic,
                FontStyle::Oblique,
            ] {
                register_font(FAMILY, style, DEJAVU_SANS).map_err(|_| DrawError::Font)?;
            }
            Ok(())
        })
        .clone()
}
