"""The appointment book: chairs, opening hours, closures and the bookings that hold a chair."""
