package redisq

// QueuedAdds is how many of p's requests wait for the next XADD pipeline.
func QueuedAdds(p *Producer) int { return queued(p.adds) }

// QueuedReplies is how many of c's answers wait for the next MULTI.
func QueuedReplies(c *Consumer) int { return queued(c.replies) }

func queued[T item](c *coalescer[T]) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}
