"""Small reusable widgets: logarithmic slider, labelled slider, file field that accepts drops."""
