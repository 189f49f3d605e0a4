//! Printable documents as PDF: a [`Printable`] (what `domain::printable` says a document says)
//! laid out on an A4 page in DejaVu Sans — embedded whole, so every Kazakh letter (ә ғ қ ң ө ұ ү
//! һ і) prints and extracts as text — with a Code 128 barcode of the registration number (the
//! State Corporation's scanners read it) and a QR code of the public verification page.
//! Both codes are drawn as vector rectangles: they stay sharp at any print resolution.

use domain::printable::Printable;
use printpdf::{Color, IndirectFontRef, Mm, PdfDocument, PdfLayerReference, Rect, Rgb};

use crate::error::ApiError;

/// DejaVu Sans 2.37 (Debian's fonts-dejavu-core), unmodified; its licence is next to it.
const FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");

/// The widest line of text, in characters, before it wraps.
const WRAP: usize = 80;

fn pdf_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(std::io::Error::other(format!("PDF: {e}")))
}

/// Splits a text into lines of at most [`WRAP`] characters at spaces (a longer word stays whole).
fn wrap(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > WRAP {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || out.is_empty() {
        out.push(line);
    }
    out
}

fn black(layer: &PdfLayerReference) {
    layer.set_fill_color(Color::Rgb(Rgb::new(0.0, 0.0, 0.0, None)));
}

/// Draws the Code 128 barcode of `data` (character set B) with its bottom-left corner at (x, y).
fn barcode(layer: &PdfLayerReference, data: &str, x: f32, y: f32) -> Result<(), ApiError> {
    const MODULE: f32 = 0.33;
    const HEIGHT: f32 = 14.0;
    let code = barcoders::sym::code128::Code128::new(format!("Ɓ{data}")).map_err(pdf_error)?;
    for (i, bar) in code.encode().iter().enumerate() {
        if *bar == 1 {
            let left = x + i as f32 * MODULE;
            layer.add_rect(Rect::new(
                Mm(left),
                Mm(y),
                Mm(left + MODULE),
                Mm(y + HEIGHT),
            ));
        }
    }
    Ok(())
}

/// Draws the QR code of `data` with its bottom-left corner at (x, y), `size` mm wide.
fn qr(layer: &PdfLayerReference, data: &str, x: f32, y: f32, size: f32) -> Result<(), ApiError> {
    let code = qrcode::QrCode::new(data.as_bytes()).map_err(pdf_error)?;
    let n = code.width();
    let module = size / n as f32;
    for (i, c) in code.to_colors().iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (col, row) = ((i % n) as f32, (i / n) as f32);
            let left = x + col * module;
            let top = y + size - row * module;
            layer.add_rect(Rect::new(
                Mm(left),
                Mm(top - module),
                Mm(left + module),
                Mm(top),
            ));
        }
    }
    Ok(())
}

fn text(layer: &PdfLayerReference, font: &IndirectFontRef, s: &str, size: f32, x: f32, y: f32) {
    layer.use_text(s, size, Mm(x), Mm(y), font);
}

/// The PDF of a printable document.
pub fn render(doc: &Printable) -> Result<Vec<u8>, ApiError> {
    let (pdf, page, layer) = PdfDocument::new(&doc.title, Mm(210.0), Mm(297.0), "document");
    let font = pdf
        .add_external_font(std::io::Cursor::new(FONT))
        .map_err(pdf_error)?;
    let layer = pdf.get_page(page).get_layer(layer);
    black(&layer);
    text(&layer, &font, &doc.title, 15.0, 20.0, 272.0);
    let mut y = 258.0;
    for (label, values) in &doc.lines {
        text(&layer, &font, label, 8.5, 20.0, y);
        y -= 5.0;
        for value in values {
            for line in wrap(value) {
                text(&layer, &font, &line, 11.0, 24.0, y);
                y -= 5.2;
            }
        }
        y -= 3.0;
        if y < 80.0 {
            break; // the codes keep their place at the foot of the page
        }
    }
    barcode(&layer, &doc.barcode, 20.0, 48.0)?;
    text(&layer, &font, &doc.barcode, 10.0, 20.0, 42.0);
    qr(&layer, &doc.verify_url, 150.0, 36.0, 40.0)?;
    text(
        &layer,
        &font,
        &format!("SHA-256: {}", doc.sha256),
        7.0,
        20.0,
        28.0,
    );
    for (i, line) in wrap(&doc.footer).iter().enumerate() {
        text(&layer, &font, line, 8.0, 20.0, 22.0 - i as f32 * 4.0);
    }
    pdf.save_to_bytes().map_err(pdf_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_wrap_at_spaces() {
        let long = "сөз ".repeat(40);
        let lines = wrap(&long);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| l.chars().count() <= WRAP));
        assert_eq!(wrap(""), vec![String::new()]);
    }
}
