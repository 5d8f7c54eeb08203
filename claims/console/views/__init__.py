"""The console's views, one module a page or group of pages; the route table in ``app`` names them."""
