"""jimu-pipeline: 事務処理誤り reports into validated, published open data packages."""

__version__ = "0.1.0"
