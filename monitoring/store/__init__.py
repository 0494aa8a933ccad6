"""Where samples live: partitions, series identity, the COPY writer, queries and export."""
