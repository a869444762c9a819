package redisq

// QueuedAdds is how many of p's requests wait for the next XADD pipeline.
func QueuedAdds(p *Producer) int { return queued(p.adds) }

func queued[T item](c *coalescer[T]) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}
