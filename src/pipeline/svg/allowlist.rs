//! What a sanitised SVG may contain: the static rendering elements of SVG 1.1/2 and their
//! geometry, paint, text and filter attributes. Anything not named here is dropped: scripts,
//! `foreignObject`, animation (`set`/`animate` can rewrite an `href` to `javascript:`),
//! `feImage` and fonts (which load resources), event handlers, foreign namespaces.

/// Elements kept (with their allowed attributes and children).
pub const ELEMENTS: &[&str] = &[
    "a",
    "circle",
    "clipPath",
    "defs",
    "desc",
    "ellipse",
    "feBlend",
    "feColorMatrix",
    "feComponentTransfer",
    "feComposite",
    "feConvolveMatrix",
    "feDiffuseLighting",
    "feDisplacementMap",
    "feDistantLight",
    "feDropShadow",
    "feFlood",
    "feFuncA",
    "feFuncB",
    "feFuncG",
    "feFuncR",
    "feGaussianBlur",
    "feMerge",
    "feMergeNode",
    "feMorphology",
    "feOffset",
    "fePointLight",
    "feSpecularLighting",
    "feSpotLight",
    "feTile",
    "feTurbulence",
    "filter",
    "g",
    "image",
    "line",
    "linearGradient",
    "marker",
    "mask",
    "path",
    "pattern",
    "polygon",
    "polyline",
    "radialGradient",
    "rect",
    "stop",
    "style",
    "svg",
    "switch",
    "symbol",
    "text",
    "textPath",
    "title",
    "tspan",
    "use",
    "view",
];

/// Elements whose text content is kept (`style`'s through the CSS filter).
pub const TEXT_ELEMENTS: &[&str] = &["desc", "style", "text", "textPath", "title", "tspan"];

/// Attributes without a namespace kept as they are (URL-bearing ones go through
/// [`PROPERTIES`]' check; `href` and `style` have rules of their own).
pub const ATTRIBUTES: &[&str] = &[
    "amplitude",
    "azimuth",
    "baseFrequency",
    "baseProfile",
    "bias",
    "class",
    "clipPathUnits",
    "cx",
    "cy",
    "d",
    "diffuseConstant",
    "divisor",
    "dx",
    "dy",
    "edgeMode",
    "elevation",
    "exponent",
    "filterUnits",
    "fr",
    "fx",
    "fy",
    "gradientTransform",
    "gradientUnits",
    "height",
    "id",
    "in",
    "in2",
    "intercept",
    "k1",
    "k2",
    "k3",
    "k4",
    "kernelMatrix",
    "kernelUnitLength",
    "lang",
    "lengthAdjust",
    "limitingConeAngle",
    "markerHeight",
    "markerUnits",
    "markerWidth",
    "maskContentUnits",
    "maskUnits",
    "method",
    "mode",
    "numOctaves",
    "offset",
    "operator",
    "order",
    "orient",
    "pathLength",
    "patternContentUnits",
    "patternTransform",
    "patternUnits",
    "points",
    "pointsAtX",
    "pointsAtY",
    "pointsAtZ",
    "preserveAlpha",
    "preserveAspectRatio",
    "primitiveUnits",
    "r",
    "radius",
    "refX",
    "refY",
    "requiredExtensions",
    "requiredFeatures",
    "result",
    "rotate",
    "rx",
    "ry",
    "scale",
    "seed",
    "side",
    "slope",
    "spacing",
    "specularConstant",
    "specularExponent",
    "spreadMethod",
    "startOffset",
    "stdDeviation",
    "stitchTiles",
    "surfaceScale",
    "systemLanguage",
    "tableValues",
    "targetX",
    "targetY",
    "textLength",
    "transform",
    "type",
    "values",
    "version",
    "viewBox",
    "width",
    "x",
    "x1",
    "x2",
    "xChannelSelector",
    "y",
    "y1",
    "y2",
    "yChannelSelector",
    "z",
];

/// Presentation attributes, which are also the CSS properties kept in `style` attributes and
/// `<style>` rules. Their values may hold `url(...)`, which must name a fragment.
pub const PROPERTIES: &[&str] = &[
    "alignment-baseline",
    "baseline-shift",
    "clip",
    "clip-path",
    "clip-rule",
    "color",
    "color-interpolation",
    "color-interpolation-filters",
    "color-rendering",
    "direction",
    "display",
    "dominant-baseline",
    "fill",
    "fill-opacity",
    "fill-rule",
    "filter",
    "flood-color",
    "flood-opacity",
    "font",
    "font-family",
    "font-feature-settings",
    "font-kerning",
    "font-size",
    "font-size-adjust",
    "font-stretch",
    "font-style",
    "font-variant",
    "font-weight",
    "glyph-orientation-horizontal",
    "glyph-orientation-vertical",
    "image-rendering",
    "isolation",
    "letter-spacing",
    "lighting-color",
    "marker",
    "marker-end",
    "marker-mid",
    "marker-start",
    "mask",
    "mask-type",
    "mix-blend-mode",
    "opacity",
    "overflow",
    "paint-order",
    "shape-rendering",
    "stop-color",
    "stop-opacity",
    "stroke",
    "stroke-dasharray",
    "stroke-dashoffset",
    "stroke-linecap",
    "stroke-linejoin",
    "stroke-miterlimit",
    "stroke-opacity",
    "stroke-width",
    "text-anchor",
    "text-decoration",
    "text-rendering",
    "transform-box",
    "transform-origin",
    "unicode-bidi",
    "vector-effect",
    "visibility",
    "white-space",
    "word-spacing",
    "writing-mode",
];

/// The data URLs an `<image>` may embed (bitmaps only: an embedded SVG would escape the
/// sanitiser).
const IMAGE_DATA: &[&str] = &[
    "data:image/png",
    "data:image/jpeg",
    "data:image/jpg",
    "data:image/gif",
    "data:image/webp",
];

/// The allowlisted spelling of `name` among `names` (a `&'static str` the writer can keep).
pub fn find(names: &[&'static str], name: &str) -> Option<&'static str> {
    names.iter().copied().find(|n| *n == name)
}

/// Whether an `href` of `element` may stay: a reference inside the document, or a bitmap
/// `data:` URL on `<image>`. Everything else (`javascript:`, `http:`, a file, another
/// document's fragment) goes.
pub fn href_allowed(element: &str, value: &str) -> bool {
    let value = value.trim();
    if let Some(fragment) = value.strip_prefix('#') {
        return !fragment.is_empty();
    }
    element == "image"
        && IMAGE_DATA.iter().any(|prefix| {
            value.len() > prefix.len()
                && value.is_char_boundary(prefix.len())
                && value[..prefix.len()].eq_ignore_ascii_case(prefix)
                && matches!(value.as_bytes()[prefix.len()], b';' | b',')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs() {
        assert!(href_allowed("use", "#a"));
        assert!(href_allowed("image", " data:image/PNG;base64,AAAA"));
        for (element, value) in [
            ("a", "javascript:alert(1)"),
            ("a", " JavaScript:alert(1)"),
            ("use", "http://example.com/a.svg#x"),
            ("use", "a.svg#x"),
            ("use", "#"),
            ("image", "data:image/svg+xml;base64,PHN2Zz4="),
            ("image", "data:image/pngx,"),
            ("image", "file:///etc/passwd"),
            ("use", "data:image/png;base64,AAAA"),
        ] {
            assert!(!href_allowed(element, value), "{element} {value}");
        }
    }

    #[test]
    fn tables_are_sorted_for_review() {
        for table in [ELEMENTS, TEXT_ELEMENTS, ATTRIBUTES, PROPERTIES] {
            let mut sorted = table.to_vec();
            sorted.sort_unstable_by_key(|s| s.to_ascii_lowercase());
            assert_eq!(sorted, table);
        }
    }
}
